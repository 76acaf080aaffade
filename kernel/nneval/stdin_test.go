package nneval

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"nnscope/display"
	"nnscope/kernel"
)

// fmt.Scan in a cell asks the frontend for each line it needs
// (kernel.Input: an input_request), after the cell's earlier output; a
// frontend that allows no input gives EOF; an interrupt ends the wait.
// (The script's stdin was an empty reader: every Scan got EOF.)
func TestScanAsksTheFrontend(t *testing.T) {
	e := New()
	defer display.SetHook(nil)
	var out strings.Builder
	var asked []string
	answers := []string{"Alice", "3 4"}
	ctx := kernel.WithInput(context.Background(), func(ctx context.Context, prompt string, password bool) (string, error) {
		asked = append(asked, out.String())
		if len(answers) == 0 {
			return "", errors.New("asked too often")
		}
		a := answers[0]
		answers = answers[1:]
		return a, nil
	})
	code := "var name string\nfmt.Print(\"name? \")\nfmt.Scanln(&name)\nvar a, b int\nfmt.Print(\"two numbers: \")\nfmt.Scan(&a, &b)\nfmt.Sprint(name, \" \", a+b)"
	res, err := e.Execute(ctx, code, &out, &out, func(kernel.Bundle) {})
	if err != nil {
		t.Fatal(err)
	}
	if got := (*res)["text/plain"]; got != `"Alice 7"` {
		t.Errorf("result %v", got)
	}
	if want := []string{"name? ", "name? two numbers: "}; strings.Join(asked, "|") != strings.Join(want, "|") {
		t.Errorf("output before each input request: %q, want %q", asked, want)
	}

	// No input allowed (nbconvert): EOF at once, as before.
	out.Reset()
	res, err = e.Execute(context.Background(), "var z int\nn, err := fmt.Scan(&z)\nfmt.Sprint(n, err)", &out, &out, func(kernel.Bundle) {})
	if err != nil || (*res)["text/plain"] != `"0 EOF"` {
		t.Fatalf("without input: %v %v", res, err)
	}

	// An interrupt while the cell waits for input.
	cctx, cancel := context.WithCancel(context.Background())
	ctx = kernel.WithInput(cctx, func(ctx context.Context, prompt string, password bool) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	})
	time.AfterFunc(200*time.Millisecond, cancel)
	done := make(chan error, 1)
	go func() {
		_, err := e.Execute(ctx, "var w string\nfmt.Scan(&w)", &out, &out, func(kernel.Bundle) {})
		done <- err
	}()
	select {
	case err := <-done:
		var ce *Error
		if !errors.As(err, &ce) || ce.Name() != "Interrupted" {
			t.Fatalf("interrupted Scan: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the interrupt did not end the Scan")
	}
}

// Output of a goroutine a cell started that prints (or panics) after the
// cell ended goes to that cell's streams, as in ipykernel; it was
// discarded, so a panic in such a goroutine left no trace.
func TestLateGoroutineOutput(t *testing.T) {
	e := New()
	defer display.SetHook(nil)
	var mu sync.Mutex
	var out strings.Builder
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(p)
	})
	code := "import \"time\"\ngo func() {\n\ttime.Sleep(100 * time.Millisecond)\n\tfmt.Println(\"late line\")\n\tpanic(\"late boom\")\n}()"
	if _, err := e.Execute(context.Background(), code, w, w, func(kernel.Bundle) {}); err != nil {
		t.Fatal(err)
	}
	// A Shift-Tab between cells evaluates with output discarded; the
	// cell's goroutine still writes to the cell after it.
	e.Inspect("time.Sleep", len("time.Sleep"), 0)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		s := out.String()
		mu.Unlock()
		if strings.Contains(s, "late line\n") && strings.Contains(s, "late boom") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("output after the cell: %q", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
