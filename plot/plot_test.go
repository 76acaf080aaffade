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
