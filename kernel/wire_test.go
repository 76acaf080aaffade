package kernel

import (
	"bytes"
	"encoding/json"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSignKnownVector(t *testing.T) {
	s, err := NewSigner("hmac-sha256", "secret")
	if err != nil {
		t.Fatal(err)
	}
	// Computed with Python's hmac.new(b"secret", ..., hashlib.sha256).hexdigest().
	const want = "a00095995cde7f76720eecc5f4ced77358851cc01d4dad53e40ec205b430a6a9"
	h, p, md, c := []byte(`{"a":1}`), []byte(`{}`), []byte(`{}`), []byte(`{"code":"1+2"}`)
	if got := s.Sign(h, p, md, c); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if !s.Verify([]byte(want), h, p, md, c) || !s.Verify([]byte(strings.ToUpper(want)), h, p, md, c) {
		t.Fatal("Verify rejects the right signature")
	}
	if s.Verify([]byte(want), h, p, md, []byte(`{"code":"1+3"}`)) {
		t.Fatal("Verify accepts a tampered content")
	}
	if s.Verify(nil, h, p, md, c) || s.Verify([]byte("zz"), h, p, md, c) {
		t.Fatal("Verify accepts a missing or non-hex signature")
	}
	if _, err := NewSigner("hmac-md5", "k"); err == nil {
		t.Fatal("NewSigner accepts hmac-md5")
	}
	empty, _ := NewSigner("hmac-sha256", "")
	if empty.Sign(h, p, md, c) != "" || !empty.Verify([]byte("anything"), h, p, md, c) {
		t.Fatal("an empty key must neither sign nor check")
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	s, _ := NewSigner("hmac-sha256", "k3y")
	parent, err := newMessage("client", "execute_request", nil, map[string]any{"code": "x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := newMessage("kern", "execute_reply", parent, map[string]any{"status": "ok"}, map[string]any{"m": 1})
	if err != nil {
		t.Fatal(err)
	}
	m.Identities = [][]byte{[]byte("id1"), []byte("id2")}
	m.Buffers = [][]byte{{0, 1, 2}}
	frames := Encode(m, s)
	if len(frames) != 2+1+1+4+1 {
		t.Fatalf("got %d frames", len(frames))
	}
	if !bytes.Equal(frames[2], delimiter) {
		t.Fatalf("frame 2 = %q, want the delimiter", frames[2])
	}
	got, err := Decode(frames, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Identities) != 2 || string(got.Identities[1]) != "id2" {
		t.Fatalf("identities = %q", got.Identities)
	}
	if got.Header.MsgType != "execute_reply" || got.Header.Version != ProtocolVersion || got.Header.Session != "kern" {
		t.Fatalf("header = %+v", got.Header)
	}
	var ph Header
	if err := json.Unmarshal(got.ParentHeader, &ph); err != nil || ph.MsgID != parent.Header.MsgID {
		t.Fatalf("parent header = %s (%v)", got.ParentHeader, err)
	}
	if string(got.Content) != `{"status":"ok"}` || string(got.Metadata) != `{"m":1}` {
		t.Fatalf("content %s metadata %s", got.Content, got.Metadata)
	}
	if len(got.Buffers) != 1 || !bytes.Equal(got.Buffers[0], []byte{0, 1, 2}) {
		t.Fatalf("buffers = %v", got.Buffers)
	}
	if _, err := time.Parse(time.RFC3339Nano, got.Header.Date); err != nil {
		t.Fatalf("date %q: %v", got.Header.Date, err)
	}
	// An empty parent header goes out as {}.
	if fr := Encode(parent, s); string(fr[3]) != "{}" || string(fr[4]) != "{}" {
		t.Fatalf("empty parent/metadata sent as %q %q", fr[3], fr[4])
	}
}

func TestDecodeRejects(t *testing.T) {
	s, _ := NewSigner("hmac-sha256", "k3y")
	other, _ := NewSigner("hmac-sha256", "wrong")
	m, _ := newMessage("c", "kernel_info_request", nil, map[string]any{}, nil)
	m.Identities = [][]byte{[]byte("peer")}

	if _, err := Decode(Encode(m, other), s); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("wrong key: err = %v", err)
	}
	unsigned, _ := NewSigner("hmac-sha256", "")
	if _, err := Decode(Encode(m, unsigned), s); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("missing signature: err = %v", err)
	}
	fr := Encode(m, s)
	tampered := append([][]byte{}, fr...)
	tampered[6] = []byte(`{"x":1}`)
	if _, err := Decode(tampered, s); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered content: err = %v", err)
	}
	if _, err := Decode(fr[:1], s); err == nil {
		t.Fatal("accepted a message without delimiter")
	}
	if _, err := Decode(fr[:5], s); err == nil {
		t.Fatal("accepted a truncated message")
	}
	if _, err := Decode(fr, s); err != nil {
		t.Fatalf("good message rejected: %v", err)
	}
}

func TestStreamWriterCoalesces(t *testing.T) {
	var mu sync.Mutex
	var chunks []string
	w := newStreamWriter(50*time.Millisecond, func(s string) {
		mu.Lock()
		chunks = append(chunks, s)
		mu.Unlock()
	})
	for i := 0; i < 1000; i++ {
		_, _ = w.Write([]byte("."))
	}
	w.Flush()
	mu.Lock()
	if n := len(chunks); n > 3 || strings.Join(chunks, "") != strings.Repeat(".", 1000) {
		t.Fatalf("1000 one-byte writes gave %d chunks: %q", n, chunks)
	}
	chunks = nil
	mu.Unlock()

	// A line after a quiet period goes out at once; one without newline within the interval.
	time.Sleep(60 * time.Millisecond)
	_, _ = w.Write([]byte("line\n"))
	mu.Lock()
	if len(chunks) != 1 || chunks[0] != "line\n" {
		t.Fatalf("line not published at once: %q", chunks)
	}
	mu.Unlock()
	_, _ = w.Write([]byte("partial"))
	time.Sleep(150 * time.Millisecond)
	mu.Lock()
	if len(chunks) != 2 || chunks[1] != "partial" {
		t.Fatalf("partial line not published after the interval: %q", chunks)
	}
	chunks = nil
	mu.Unlock()

	// A UTF-8 sequence split across writes is never split across messages.
	time.Sleep(60 * time.Millisecond)
	e := []byte("é\n")
	_, _ = w.Write(e[:1])
	time.Sleep(80 * time.Millisecond)
	_, _ = w.Write(e[1:])
	w.Flush()
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(chunks, "") != "é\n" {
		t.Fatalf("chunks %q", chunks)
	}
	for _, c := range chunks {
		if !strings.HasPrefix("é\n", c) && !strings.HasSuffix("é\n", c) || strings.ContainsRune(c, '\uFFFD') {
			t.Fatalf("bad chunk %q", c)
		}
	}
}

func TestBundleParts(t *testing.T) {
	b := Bundle{"text/plain": []byte("hi"), "image/png": []byte{1, 2}}.
		WithMetadata(map[string]any{"image/png": map[string]any{"width": 3}}).AsUpdate("d1")
	data, md, tr, update := b.parts()
	if !update || tr["display_id"] != "d1" || md["image/png"] == nil {
		t.Fatalf("parts: md %v transient %v update %v", md, tr, update)
	}
	js, _ := json.Marshal(data)
	if string(js) != `{"image/png":"AQI=","text/plain":"hi"}` {
		t.Fatalf("data JSON %s", js)
	}
	if _, _, _, update := (Bundle{"text/plain": "x", KeyUpdate: true}).parts(); update {
		t.Fatal("an update without display_id must be a plain display")
	}
}

func TestKernelSpec(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kernels", "nnscope")
	if err := InstallKernelSpec(dir, []string{"/usr/bin/nnscope", "kernel"}, ""); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec KernelSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	if strings.Join(spec.Argv, " ") != "/usr/bin/nnscope kernel {connection_file}" ||
		spec.DisplayName != "Go (nnscope)" || spec.Language != "go" || spec.InterruptMode != "message" {
		t.Fatalf("kernel.json = %s", b)
	}
	for _, name := range []string{"logo-32x32.png", "logo-64x64.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if img.Bounds().Dx() != int(name[5]-'0')*10+int(name[6]-'0') {
			t.Fatalf("%s is %v", name, img.Bounds())
		}
	}

	if runtime.GOOS != "linux" {
		return
	}
	t.Setenv("JUPYTER_DATA_DIR", "")
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "/home/u")
	for _, c := range []struct {
		user   bool
		prefix string
		want   string
	}{
		{true, "", "/home/u/.local/share/jupyter/kernels/nnscope"},
		{false, "/opt/venv", "/opt/venv/share/jupyter/kernels/nnscope"},
		{true, "/opt/venv", "/opt/venv/share/jupyter/kernels/nnscope"},
		{false, "", "/usr/local/share/jupyter/kernels/nnscope"},
	} {
		got, err := KernelSpecDir(KernelName, c.user, c.prefix)
		if err != nil || got != c.want {
			t.Errorf("KernelSpecDir(%v, %q) = %q, %v; want %q", c.user, c.prefix, got, err, c.want)
		}
	}
	t.Setenv("XDG_DATA_HOME", "/xdg")
	if got, _ := KernelSpecDir(KernelName, true, ""); got != "/xdg/jupyter/kernels/nnscope" {
		t.Errorf("with XDG_DATA_HOME: %q", got)
	}
	t.Setenv("JUPYTER_DATA_DIR", "/jd")
	if got, _ := KernelSpecDir(KernelName, true, ""); got != "/jd/kernels/nnscope" {
		t.Errorf("with JUPYTER_DATA_DIR: %q", got)
	}
}

func TestOffsets(t *testing.T) {
	s := "héllo wörld"
	for r := 0; r <= 11; r++ {
		if got := runeOffset(s, byteOffset(s, r)); got != r {
			t.Fatalf("rune %d -> byte %d -> rune %d", r, byteOffset(s, r), got)
		}
	}
	if byteOffset(s, 2) != 3 || byteOffset(s, 99) != len(s) {
		t.Fatal("byteOffset")
	}
}
