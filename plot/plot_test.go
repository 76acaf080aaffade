package plot

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestHeatmap(t *testing.T) {
	m := [][]float64{{-1, 0, 2}, {0.5, 3, -2}}
	b, err := Heatmap(m, []string{"L0", "L1"}, []string{"The", " Eiffel", " Tower"}, Options{Title: "patching", XLabel: "token", YLabel: "layer"})
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if r := img.Bounds(); r.Dx() < 100 || r.Dy() < 100 {
		t.Fatalf("image too small: %v", r)
	}
	if dir := os.Getenv("NNSCOPE_PLOT_OUT"); dir != "" {
		os.WriteFile(filepath.Join(dir, "heatmap.png"), b, 0o644)
	}
	if _, err := Heatmap([][]float64{{1, 2}, {3}}, nil, nil, Options{}); err == nil {
		t.Fatal("ragged matrix accepted")
	}
	if _, err := Heatmap(m, []string{"a"}, nil, Options{}); err == nil {
		t.Fatal("wrong label count accepted")
	}
}

func TestLine(t *testing.T) {
	b, err := Line([]string{"0", "1", "2", "3"}, []Series{{Name: "clean", Values: []float64{1, 2, 3, 2}}, {Name: "patched", Values: []float64{-1, 0, 1, 0.5}}}, Options{Title: "logit diff", XLabel: "layer"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("NNSCOPE_PLOT_OUT"); dir != "" {
		os.WriteFile(filepath.Join(dir, "line.png"), b, 0o644)
	}
	if _, err := Line([]string{"a"}, []Series{{Values: []float64{1, 2}}}, Options{}); err == nil {
		t.Fatal("length mismatch accepted")
	}
}

func TestHeatmapManyColumns(t *testing.T) {
	m := make([][]float64, 12)
	cols := make([]string, 40)
	for i := range cols {
		cols[i] = " token"
	}
	for i := range m {
		m[i] = make([]float64, len(cols))
		for j := range m[i] {
			m[i][j] = float64(i - j)
		}
	}
	b, err := Heatmap(m, nil, cols, Options{Title: "wide"})
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if r := img.Bounds(); r.Dx() > 1600 {
		t.Fatalf("image too wide: %v", r)
	}
	if dir := os.Getenv("NNSCOPE_PLOT_OUT"); dir != "" {
		os.WriteFile(filepath.Join(dir, "heatmap_wide.png"), b, 0o644)
	}
}

// TestLineKeepsEdgesClear: nothing is drawn against the image's edges. The
// last x label and the points at both ends were cut in half by them, and
// the legend, inside the data at the top right, covered the last points of
// a rising series; now the data has room at its ends and the legend a
// column of its own.
func TestLineKeepsEdgesClear(t *testing.T) {
	for _, names := range [][2]string{{"", ""}, {"clean", "patched"}} {
		b, err := Line([]string{"0", "1", "2"}, []Series{{Name: names[0], Values: []float64{34, 54, 64}}, {Name: names[1], Values: []float64{30, 50, 60}}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r := img.Bounds()
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Max.X - 3; x < r.Max.X; x++ {
				if cr, cg, cb, _ := img.At(x, y).RGBA(); cr < 0xc000 || cg < 0xc000 || cb < 0xc000 { // grid lines are light
					t.Fatalf("names %q: pixel (%d,%d) at the right edge is drawn on: %v", names, x, y, img.At(x, y))
				}
			}
		}
	}
}
