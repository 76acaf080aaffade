// Package plot draws the figures nnscope scripts ask for (heatmaps of
// patching matrices, per-layer curves) as PNG images with gonum/plot. It
// knows nothing about tensors or notebooks: the nnscope package converts its
// arguments and decides where the image goes.
package plot

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Options are the common settings of a figure.
type Options struct {
	Title          string
	XLabel, YLabel string
	// Width and Height in points (1/72 inch); 0 picks a size from the data.
	Width, Height float64
	// DPI of the PNG (default 96).
	DPI int
}

// Series is one named curve of a line plot.
type Series struct {
	Name   string
	Values []float64
}

func (o Options) dpi() int {
	if o.DPI <= 0 {
		return 96
	}
	return o.DPI
}

// Heatmap renders matrix (rows of equal length) with row 0 at the top, one
// cell per value, a diverging blue–white–red palette centred on 0 when the
// values have both signs, and a colour bar. Labels may be nil; otherwise
// they must match the matrix's dimensions.
func Heatmap(matrix [][]float64, rowLabels, colLabels []string, o Options) ([]byte, error) {
	rows := len(matrix)
	if rows == 0 || len(matrix[0]) == 0 {
		return nil, errors.New("heatmap: empty matrix")
	}
	cols := len(matrix[0])
	for i, r := range matrix {
		if len(r) != cols {
			return nil, fmt.Errorf("heatmap: row %d has %d values, row 0 has %d", i, len(r), cols)
		}
	}
	if rowLabels != nil && len(rowLabels) != rows {
		return nil, fmt.Errorf("heatmap: %d row labels for %d rows", len(rowLabels), rows)
	}
	if colLabels != nil && len(colLabels) != cols {
		return nil, fmt.Errorf("heatmap: %d column labels for %d columns", len(colLabels), cols)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range matrix {
		for _, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if lo > hi { // all NaN
		lo, hi = 0, 1
	}
	if lo < 0 && hi > 0 {
		m := math.Max(-lo, hi)
		lo, hi = -m, m
	}
	if lo == hi {
		lo, hi = lo-1, hi+1
	}
	cmap := moreland.SmoothBlueRed()
	cmap.SetMin(lo)
	cmap.SetMax(hi)

	p := gplot.New()
	p.Title.Text = o.Title
	p.X.Label.Text = o.XLabel
	p.Y.Label.Text = o.YLabel
	hm := plotter.NewHeatMap(grid{matrix}, cmap.Palette(255))
	hm.Min, hm.Max = lo, hi
	hm.NaN = color.Gray{Y: 200}
	hm.Rasterized = false
	p.Add(hm)
	if colLabels == nil {
		colLabels = indexLabels(cols)
	}
	if rowLabels == nil {
		rowLabels = indexLabels(rows)
	}
	p.NominalX(colLabels...)
	rev := make([]string, rows)
	for i, l := range rowLabels {
		rev[rows-1-i] = l
	}
	p.NominalY(rev...)
	p.X.Padding, p.Y.Padding = 0, 0

	// Columns wide enough for their labels (about 6.5 points a character
	// at the default font size), up to a width where labels are rotated.
	colW := math.Max(28, float64(longest(colLabels))*6.5+6)
	w, h := o.Width, o.Height
	if w <= 0 {
		w = math.Min(math.Max(float64(cols)*colW+170, 320), 1100)
	}
	if float64(cols)*colW > w-170 {
		p.X.Tick.Label.Rotation = -math.Pi / 2
		p.X.Tick.Label.XAlign = draw.XLeft
		p.X.Tick.Label.YAlign = draw.YCenter
	}
	if h <= 0 {
		h = math.Min(math.Max(float64(rows)*24+110, 220), 900)
	}
	const barW = 70
	c := vgimg.NewWith(vgimg.UseWH(vg.Length(w), vg.Length(h)), vgimg.UseDPI(o.dpi()), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(c)
	left := draw.Crop(dc, 0, -barW, 0, 0)
	p.Draw(left)

	bar := gplot.New()
	bar.Add(&plotter.ColorBar{ColorMap: cmap, Vertical: true})
	bar.HideX()
	bar.Y.Padding = 0
	bar.Title.Text = " " // aligns the bar with the heatmap below the title
	if o.Title == "" {
		bar.Title.Text = ""
	}
	// Leave room below for the heatmap's tick labels, so the bar spans
	// roughly the data area.
	right := draw.Crop(dc, vg.Length(w)-barW+15, -10, 40, 0)
	bar.Draw(right)
	return encode(c)
}

// Line renders one curve per series over the x labels (e.g. layers), with
// points, a legend when there is more than one series or a named one, and
// a dashed zero line when the values cross 0.
func Line(xLabels []string, series []Series, o Options) ([]byte, error) {
	if len(series) == 0 {
		return nil, errors.New("line: no series")
	}
	n := len(xLabels)
	for _, s := range series {
		if n == 0 {
			n = len(s.Values)
		}
		if len(s.Values) != n {
			return nil, fmt.Errorf("line: series %q has %d values for %d x labels", s.Name, len(s.Values), n)
		}
	}
	if n == 0 {
		return nil, errors.New("line: no values")
	}
	if xLabels == nil {
		xLabels = indexLabels(n)
	}
	p := gplot.New()
	p.Title.Text = o.Title
	p.X.Label.Text = o.XLabel
	p.Y.Label.Text = o.YLabel
	p.Add(plotter.NewGrid())
	// The legend goes in a column right of the data: inside it, at the top
	// right, it covered the points there (the last ones of rising series).
	legend := gplot.NewLegend()
	legend.Left, legend.Top = true, true
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, s := range series {
		pts := make(plotter.XYs, n)
		for j, v := range s.Values {
			pts[j] = plotter.XY{X: float64(j), Y: v}
			if !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		l, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, fmt.Errorf("line: series %q: %v", s.Name, err)
		}
		col := plotutil.Color(i)
		l.Color = col
		l.Width = vg.Points(1.5)
		sc.Color = col
		sc.Shape = plotutil.Shape(i)
		p.Add(l, sc)
		if s.Name != "" {
			legend.Add(s.Name, l, sc)
		}
	}
	if lo < 0 && hi > 0 {
		z, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: float64(n - 1), Y: 0}})
		if err == nil {
			z.Color = color.Gray{Y: 120}
			z.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
			p.Add(z)
		}
	}
	p.NominalX(xLabels...)
	// Half a step of room at both ends: the first and last points (and the
	// last x label) were cut in half by the edges of the plot.
	p.X.Min, p.X.Max = -0.5, float64(n-1)+0.5
	if lo <= hi { // and a little above and below the values, for the same reason
		pad := (hi - lo) * 0.05
		if pad == 0 {
			pad = math.Max(math.Abs(hi)*0.05, 0.5)
		}
		p.Y.Min, p.Y.Max = lo-pad, hi+pad
	}
	if longest(xLabels) > 4 || n > 16 {
		p.X.Tick.Label.Rotation = math.Pi / 4
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
	w, h := o.Width, o.Height
	if w <= 0 {
		w = math.Min(math.Max(float64(n)*30+120, 400), 1000)
	}
	if h <= 0 {
		h = 300
	}
	c := vgimg.NewWith(vgimg.UseWH(vg.Length(w), vg.Length(h)), vgimg.UseDPI(o.dpi()), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(c)
	if r := legend.Rectangle(dc); r.Size().X > 0 {
		lw := r.Size().X + vg.Points(12)
		p.Draw(draw.Crop(dc, 0, -lw, 0, 0))
		top := vg.Length(0)
		if p.Title.Text != "" {
			top = p.Title.TextStyle.Height(p.Title.Text) + p.Title.Padding
		}
		legend.Draw(draw.Crop(dc, dc.Max.X-dc.Min.X-lw+vg.Points(6), 0, 0, -top))
	} else {
		p.Draw(dc)
	}
	return encode(c)
}

func encode(c *vgimg.Canvas) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// grid adapts a row-major matrix to plotter.GridXYZ with row 0 at the top.
type grid struct{ m [][]float64 }

func (g grid) Dims() (c, r int)   { return len(g.m[0]), len(g.m) }
func (g grid) Z(c, r int) float64 { return g.m[len(g.m)-1-r][c] }
func (g grid) X(c int) float64    { return float64(c) }
func (g grid) Y(r int) float64    { return float64(r) }

func indexLabels(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(i)
	}
	return out
}

func longest(ss []string) int {
	n := 0
	for _, s := range ss {
		n = max(n, len([]rune(s)))
	}
	return n
}
