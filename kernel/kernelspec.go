package kernel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// KernelName is the directory name of the kernelspec.
const KernelName = "nnscope"

// InterruptMode is the kernelspec's interrupt_mode. "message" makes the client send an
// interrupt_request on the control channel, which reaches the kernel however it was launched
// (through a wrapper script, `go run`, a container or a remote gateway, where a SIGINT sent to the
// launched process would not arrive or would hit the wrong process) and on every OS. The kernel
// also treats SIGINT as an interrupt, so a kernelspec edited to "signal" works as well.
const InterruptMode = "message"

// KernelSpec is the content of kernel.json.
type KernelSpec struct {
	Argv          []string          `json:"argv"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	InterruptMode string            `json:"interrupt_mode,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
	Metadata      map[string]any    `json:"metadata,omitempty"`
}

// KernelSpecDir returns the directory Jupyter reads the kernelspec named
// name (its id, KernelName by default) from, computed like `jupyter
// kernelspec install` does: with a prefix, PREFIX/share/jupyter/kernels/NAME;
// for the user, the Jupyter data dir ($JUPYTER_DATA_DIR, else
// $XDG_DATA_HOME/jupyter, else ~/.local/share/jupyter; ~/Library/Jupyter on
// macOS, %APPDATA%\jupyter on Windows) plus kernels/NAME; otherwise the
// system dir /usr/local/share/jupyter/kernels/NAME
// (%PROGRAMDATA%\jupyter\kernels\NAME on Windows). prefix wins over user.
func KernelSpecDir(name string, user bool, prefix string) (string, error) {
	switch {
	case prefix != "":
		return filepath.Join(prefix, "share", "jupyter", "kernels", name), nil
	case user:
		d, err := jupyterDataDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(d, "kernels", name), nil
	case runtime.GOOS == "windows":
		pd := os.Getenv("PROGRAMDATA")
		if pd == "" {
			return "", errors.New("kernel: PROGRAMDATA is not set")
		}
		return filepath.Join(pd, "jupyter", "kernels", name), nil
	default:
		return filepath.Join("/usr/local/share/jupyter/kernels", name), nil
	}
}

func jupyterDataDir() (string, error) {
	if d := os.Getenv("JUPYTER_DATA_DIR"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	switch runtime.GOOS {
	case "windows":
		if ad := os.Getenv("APPDATA"); ad != "" {
			return filepath.Join(ad, "jupyter"), nil
		}
		if err != nil {
			return "", fmt.Errorf("kernel: no APPDATA nor home directory: %w", err)
		}
		return filepath.Join(home, ".jupyter", "data"), nil
	case "darwin":
		if err != nil {
			return "", fmt.Errorf("kernel: no home directory: %w", err)
		}
		return filepath.Join(home, "Library", "Jupyter"), nil
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "jupyter"), nil
	}
	if err != nil {
		return "", fmt.Errorf("kernel: no home directory: %w", err)
	}
	return filepath.Join(home, ".local", "share", "jupyter"), nil
}

// InstallKernelSpec writes kernel.json and the logos into dir (created if needed). argv is the
// command line that starts the kernel; "{connection_file}" is appended when no argument contains
// it. An empty displayName means "Go (nnscope)".
func InstallKernelSpec(dir string, argv []string, displayName string) error {
	if len(argv) == 0 {
		return errors.New("kernel: empty kernel argv")
	}
	argv = slices.Clone(argv)
	if !slices.ContainsFunc(argv, func(a string) bool { return strings.Contains(a, "{connection_file}") }) {
		argv = append(argv, "{connection_file}")
	}
	if displayName == "" {
		displayName = "Go (nnscope)"
	}
	spec := KernelSpec{
		Argv:          argv,
		DisplayName:   displayName,
		Language:      "go",
		InterruptMode: InterruptMode,
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("kernel: create kernelspec dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kernel.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("kernel: write kernel.json: %w", err)
	}
	for _, size := range []int{32, 64} {
		var buf bytes.Buffer
		if err := png.Encode(&buf, Logo(size)); err != nil {
			return err
		}
		name := fmt.Sprintf("logo-%dx%d.png", size, size)
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("kernel: write %s: %w", name, err)
		}
	}
	return nil
}

// Logo draws the kernel's logo, a magnifying glass on Go blue, size×size pixels.
func Logo(size int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	bg := color.NRGBA{0x00, 0xAD, 0xD8, 0xff}
	fg := color.NRGBA{0xff, 0xff, 0xff, 0xff}
	lens := color.NRGBA{0xCE, 0xF3, 0xFB, 0xff}
	s := float64(size)
	cx, cy, r := 0.42*s, 0.42*s, 0.26*s
	w := 0.07 * s
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			px, py := float64(x)+0.5, float64(y)+0.5
			d := math.Hypot(px-cx, py-cy)
			c := bg
			switch {
			case d < r-w/2:
				c = lens
			case d <= r+w/2:
				c = fg
			default:
				// Handle: a thick segment from the ring towards the lower right corner.
				t := ((px - cx) + (py - cy)) / 2 // projection on the diagonal
				off := math.Abs((px-cx)-(py-cy)) / math.Sqrt2
				if t > r/math.Sqrt2 && t < 0.5*s && off < 1.2*w {
					c = fg
				}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}
