package nnscope

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"unicode"

	"nnscope/display"
	"nnscope/plot"
)

// Figure is a rendered plot (PNG). In a notebook it is shown when it is
// made; from a script or the REPL it is written to a PNG file.
type Figure struct {
	title string
	png   []byte
	file  string // where it was written, if it was
	shown bool
}

// PNG returns the encoded image.
func (f *Figure) PNG() []byte { return f.png }

// Title returns the figure's title.
func (f *Figure) Title() string { return f.title }

// File returns the file the figure was written to ("" in a notebook,
// unless Save was called).
func (f *Figure) File() string { return f.file }

// Save writes the PNG to path.
func (f *Figure) Save(path string) error {
	if err := os.WriteFile(path, f.png, 0o644); err != nil {
		return err
	}
	f.file = path
	return nil
}

// Show displays the figure again in a notebook (or writes its file again).
func (f *Figure) Show() { f.show("") }

// Shown reports whether the figure was already displayed in a notebook
// (the kernel then does not repeat it as the cell's result).
func (f *Figure) Shown() bool { return f.shown }

func (f *Figure) String() string {
	s := "Figure"
	if f.title != "" {
		s += fmt.Sprintf(" %q", f.title)
	}
	s += fmt.Sprintf(" (%d bytes PNG", len(f.png))
	if f.file != "" {
		s += ", " + f.file
	}
	return s + ")"
}

// PlotOption sets an option of Heatmap and Line.
type PlotOption func(*plotOptions)

type plotOptions struct {
	plot.Options
	file string
}

// Title sets a figure's title (also the file name outside notebooks).
func Title(s string) PlotOption { return func(o *plotOptions) { o.Title = s } }

// XLabel sets the label of the x axis.
func XLabel(s string) PlotOption { return func(o *plotOptions) { o.XLabel = s } }

// YLabel sets the label of the y axis.
func YLabel(s string) PlotOption { return func(o *plotOptions) { o.YLabel = s } }

// Size sets the size of a figure in points (1/72 inch).
func Size(width, height float64) PlotOption {
	return func(o *plotOptions) { o.Width, o.Height = width, height }
}

// File sets the PNG file a figure is written to. Outside notebooks a
// figure is always written (by default to a name made from the title, or
// figure-N.png); in a notebook it is shown, and written too with File.
func File(path string) PlotOption { return func(o *plotOptions) { o.file = path } }

// Series is one named curve of Line. Values is a []float64, []float32,
// []int or a 1-d *Tensor.
type Series struct {
	Name   string
	Values any
}

// Heatmap draws matrix (a 2-d *Tensor, [][]float64 or [][]float32; a 1-d
// tensor is one row) with row 0 at the top, e.g. a patching matrix of layers
// × positions. rowLabels and colLabels may be nil.
func Heatmap(matrix any, rowLabels, colLabels []string, opts ...PlotOption) *Figure {
	o := collectPlotOptions(opts)
	m := toMatrix("Heatmap", matrix)
	png, err := plot.Heatmap(m, rowLabels, colLabels, o.Options)
	if err != nil {
		fail("usage", "Heatmap: %v", strings.TrimPrefix(err.Error(), "heatmap: "))
	}
	f := &Figure{title: o.Title, png: png}
	f.show(o.file)
	return f
}

// Line draws curves over xLabels (e.g. one label per layer). args are
// Series (named curves), unnamed values ([]float64, []float32, []int, a 1-d
// *Tensor) and PlotOptions, in any order.
func Line(xLabels []string, args ...any) *Figure {
	var opts []PlotOption
	var series []plot.Series
	for i, a := range args {
		switch v := a.(type) {
		case PlotOption:
			opts = append(opts, v)
		case func(*plotOptions):
			opts = append(opts, v)
		case Series:
			series = append(series, plot.Series{Name: v.Name, Values: toVector("Line", v.Values)})
		case []Series:
			for _, s := range v {
				series = append(series, plot.Series{Name: s.Name, Values: toVector("Line", s.Values)})
			}
		default:
			vals, ok := vector(a)
			if !ok {
				fail("usage", "Line: argument %d has type %T (want nnscope.Series, values or a PlotOption)", i+2, a)
			}
			series = append(series, plot.Series{Values: vals})
		}
	}
	o := collectPlotOptions(opts)
	png, err := plot.Line(xLabels, series, o.Options)
	if err != nil {
		fail("usage", "Line: %v", strings.TrimPrefix(err.Error(), "line: "))
	}
	f := &Figure{title: o.Title, png: png}
	f.show(o.file)
	return f
}

func collectPlotOptions(opts []PlotOption) plotOptions {
	var o plotOptions
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

var figureCount struct {
	sync.Mutex
	n int
}

// show displays f in a notebook, or writes it to file (or a name from the
// title) and says so on stderr.
func (f *Figure) show(file string) {
	text := f.String()
	if display.Show(display.Output{Data: map[string][]byte{"image/png": f.png, "text/plain": []byte(text)}}) {
		f.shown = true
		if file != "" { // asked for by name: written in a notebook too
			if err := f.Save(file); err != nil {
				fail("io", "figure: %v", err)
			}
		}
		return
	}
	if file == "" {
		file = f.file
	}
	if file == "" {
		figureCount.Lock()
		figureCount.n++
		n := figureCount.n
		figureCount.Unlock()
		file = fileName(f.title, n)
	}
	if err := f.Save(file); err != nil {
		fail("io", "figure: %v", err)
	}
	fmt.Fprintf(os.Stderr, "nnscope: wrote %s\n", file)
}

// fileName makes a PNG file name from a title: "Attribution patching" →
// "attribution_patching.png".
func fileName(title string, n int) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(title) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' {
			if sep && b.Len() > 0 {
				b.WriteByte('_')
			}
			sep = false
			b.WriteRune(r)
		} else {
			sep = true
		}
		if b.Len() >= 60 {
			break
		}
	}
	if b.Len() == 0 {
		return fmt.Sprintf("figure-%d.png", n)
	}
	return b.String() + ".png"
}

func toMatrix(fn string, v any) [][]float64 {
	switch m := v.(type) {
	case [][]float64:
		return m
	case [][]float32:
		out := make([][]float64, len(m))
		for i, r := range m {
			out[i] = f32to64(r)
		}
		return out
	case *Tensor:
		if m == nil {
			fail("usage", "%s: nil tensor", fn)
		}
		shape, data := m.Shape(), m.Data()
		switch len(shape) {
		case 1:
			return [][]float64{data}
		case 2:
			out := make([][]float64, shape[0])
			for i := range out {
				out[i] = data[i*shape[1] : (i+1)*shape[1]]
			}
			return out
		}
		fail("usage", "%s: want a 2-d tensor, got shape %v", fn, shape)
	}
	if vec, ok := vector(v); ok {
		return [][]float64{vec}
	}
	fail("usage", "%s: want a 2-d *nnscope.Tensor or [][]float64, got %T", fn, v)
	return nil
}

func toVector(fn string, v any) []float64 {
	vec, ok := vector(v)
	if !ok {
		fail("usage", "%s: want values as []float64, []float32, []int or a 1-d tensor, got %T", fn, v)
	}
	return vec
}

func vector(v any) ([]float64, bool) {
	switch x := v.(type) {
	case []float64:
		return x, true
	case []float32:
		return f32to64(x), true
	case []int:
		out := make([]float64, len(x))
		for i, n := range x {
			out[i] = float64(n)
		}
		return out, true
	case *Tensor:
		if x == nil {
			return nil, false
		}
		if s := x.Shape(); len(s) > 1 {
			n := 0
			for _, d := range s {
				if d > 1 {
					n++
				}
			}
			if n > 1 {
				fail("usage", "want a 1-d tensor, got shape %v", s)
			}
		}
		return x.Data(), true
	}
	return nil, false
}

func f32to64(r []float32) []float64 {
	out := make([]float64, len(r))
	for i, v := range r {
		out[i] = float64(v)
	}
	return out
}
