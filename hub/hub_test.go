package hub

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"nnscope/safetensors"
)

const fixtureDir = "../testdata/gpt2-tiny"

func init() { retryDelay = time.Millisecond }

// cleanEnv isolates a test from the caller's Hugging Face settings.
func cleanEnv(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	for _, v := range []string{"HF_HUB_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_CACHE",
		"HUGGINGFACE_HUB_CACHE", "HF_ENDPOINT", "XDG_CACHE_HOME", "HF_TOKEN_PATH"} {
		t.Setenv(v, "")
	}
	t.Setenv("HF_HOME", filepath.Join(home, "hf"))
	t.Setenv("HOME", home)
	return home
}

type hubFile struct {
	data []byte
	lfs  bool
	etag string // sha256 for LFS files, git blob sha1 otherwise
}

// fakeHub imitates huggingface.co: /ORG/NAME/resolve/REV/FILE answers with
// X-Repo-Commit and ETag/X-Linked-Etag/X-Linked-Size, redirecting LFS files
// to a CDN on another host that honours Range requests.
type fakeHub struct {
	t        *testing.T
	hub, cdn *httptest.Server
	commit   string
	files    map[string]hubFile

	mu          sync.Mutex
	log         []string // "HUB HEAD /path", "CDN GET /path range=..."
	hubAuth     []string
	cdnAuth     []string
	dropGets    int   // CDN: this many GETs send half the body then drop the connection
	ignoreRange bool  // CDN: answer 200 with the whole file even to a Range request
	noCommit    bool  // hub: omit X-Repo-Commit (not a Hub)
	dropAt      int64 // where to drop (default: half)
	stall       bool  // dropping GETs hang instead of closing
}

func gitBlobSHA1(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func newFakeHub(t *testing.T) *fakeHub {
	t.Helper()
	cfg, err := os.ReadFile(filepath.Join(fixtureDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	model, err := os.ReadFile(filepath.Join(fixtureDir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(model)
	f := &fakeHub{
		t:      t,
		commit: "0123456789abcdef0123456789abcdef01234567",
		files: map[string]hubFile{
			"config.json":       {data: cfg, etag: gitBlobSHA1(cfg)},
			"model.safetensors": {data: model, lfs: true, etag: hex.EncodeToString(sum[:])},
			"sub/extra.txt":     {data: []byte("hello\n"), etag: gitBlobSHA1([]byte("hello\n"))},
		},
	}
	f.cdn = httptest.NewServer(http.HandlerFunc(f.serveCDN))
	f.hub = httptest.NewServer(http.HandlerFunc(f.serveHub))
	t.Cleanup(func() { f.hub.Close(); f.cdn.Close() })
	return f
}

func (f *fakeHub) record(s string) {
	f.mu.Lock()
	f.log = append(f.log, s)
	f.mu.Unlock()
}

func (f *fakeHub) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *fakeHub) reset() {
	f.mu.Lock()
	f.log, f.hubAuth, f.cdnAuth = nil, nil, nil
	f.mu.Unlock()
}

func (f *fakeHub) serveHub(w http.ResponseWriter, r *http.Request) {
	f.record("HUB " + r.Method + " " + r.URL.Path)
	f.mu.Lock()
	f.hubAuth = append(f.hubAuth, r.Header.Get("Authorization"))
	noCommit := f.noCommit
	f.mu.Unlock()
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 5)
	if len(parts) != 5 || parts[2] != "resolve" {
		http.NotFound(w, r)
		return
	}
	repo, rev, name := parts[0]+"/"+parts[1], parts[3], parts[4]
	fail := func(status int, code, msg string) {
		w.Header().Set("X-Error-Code", code)
		w.Header().Set("X-Error-Message", msg)
		w.WriteHeader(status)
	}
	switch repo {
	case "org/tiny":
	case "old/tiny": // a renamed repository: relative redirect
		http.Redirect(w, r, "/org/tiny/resolve/"+rev+"/"+name, http.StatusTemporaryRedirect)
		return
	case "org/private":
		fail(http.StatusUnauthorized, "RepoNotFound", "Repository Not Found for url")
		return
	case "org/gated":
		if r.Header.Get("Authorization") != "Bearer good" {
			fail(http.StatusForbidden, "GatedRepo", "Access to model org/gated is restricted.")
			return
		}
	default:
		fail(http.StatusNotFound, "RepoNotFound", "Repository Not Found")
		return
	}
	if rev != "main" && rev != f.commit {
		fail(http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return
	}
	if !noCommit {
		w.Header().Set("X-Repo-Commit", f.commit)
	}
	file, ok := f.files[name]
	if !ok {
		fail(http.StatusNotFound, "EntryNotFound", "Entry not found")
		return
	}
	if file.lfs {
		w.Header().Set("X-Linked-Etag", `"`+file.etag+`"`)
		w.Header().Set("X-Linked-Size", fmt.Sprint(len(file.data)))
		w.Header().Set("ETag", `W/"not-the-blob-name"`)
		w.Header().Set("Location", f.cdn.URL+"/cdn/"+file.etag+"?X-Amz-Signature=abc")
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `W/"`+file.etag+`"`)
	w.Header().Set("Content-Length", fmt.Sprint(len(file.data)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(file.data)
	}
}

func (f *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	f.record(fmt.Sprintf("CDN %s %s range=%s", r.Method, r.URL.Path, r.Header.Get("Range")))
	f.mu.Lock()
	f.cdnAuth = append(f.cdnAuth, r.Header.Get("Authorization"))
	drop := f.dropGets > 0 && r.Method == http.MethodGet
	if drop {
		f.dropGets--
	}
	ignoreRange := f.ignoreRange
	dropAt := f.dropAt
	f.mu.Unlock()
	etag := strings.TrimPrefix(r.URL.Path, "/cdn/")
	var data []byte
	for _, file := range f.files {
		if file.etag == etag {
			data = file.data
		}
	}
	if data == nil || r.URL.Query().Get("X-Amz-Signature") != "abc" {
		http.Error(w, "no such object", http.StatusForbidden)
		return
	}
	w.Header().Set("ETag", `"s3-etag-unrelated"`)
	if drop {
		// Announce the whole (remaining) body, send part of it, drop.
		start := int64(0)
		if rg := r.Header.Get("Range"); rg != "" && !ignoreRange {
			fmt.Sscanf(rg, "bytes=%d-", &start)
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(data)-1, len(data)))
			w.Header().Set("Content-Length", fmt.Sprint(int64(len(data))-start))
			w.WriteHeader(http.StatusPartialContent)
		} else {
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			w.WriteHeader(http.StatusOK)
		}
		cut := dropAt
		if cut == 0 {
			cut = int64(len(data)) / 2
		}
		if cut > start {
			w.Write(data[start:cut])
		}
		w.(http.Flusher).Flush()
		if f.stall {
			<-r.Context().Done()
		}
		panic(http.ErrAbortHandler)
	}
	if ignoreRange {
		r.Header.Del("Range")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

func (f *fakeHub) opts(cache string) Options {
	return Options{Endpoint: f.hub.URL, CacheDir: cache}
}

// checkLayout verifies the huggingface_hub cache layout for org/tiny.
func (f *fakeHub) checkLayout(t *testing.T, cache, id, dir string, files ...string) {
	t.Helper()
	repo := filepath.Join(cache, "models--"+strings.ReplaceAll(id, "/", "--"))
	if want := filepath.Join(repo, "snapshots", f.commit); dir != want {
		t.Errorf("dir = %s, want %s", dir, want)
	}
	ref, err := os.ReadFile(filepath.Join(repo, "refs", "main"))
	if err != nil || string(ref) != f.commit {
		t.Errorf("refs/main = %q, %v; want %q", ref, err, f.commit)
	}
	for _, name := range files {
		file := f.files[name]
		p := filepath.Join(dir, filepath.FromSlash(name))
		target, err := os.Readlink(p)
		if err != nil {
			t.Errorf("%s is not a symlink: %v", name, err)
			continue
		}
		want := strings.Repeat("../", 2+strings.Count(name, "/")) + "blobs/" + file.etag
		if target != want {
			t.Errorf("%s -> %s, want %s", name, target, want)
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, file.data) {
			t.Errorf("%s content differs (%d bytes, %v)", name, len(got), err)
		}
		if _, err := os.Stat(filepath.Join(repo, "blobs", file.etag+".incomplete")); err == nil {
			t.Errorf("%s: .incomplete left behind", name)
		}
	}
}

func TestFreshDownloadThenCache(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	cache := t.TempDir()
	var progress bytes.Buffer
	o := f.opts(cache)
	o.Progress = &progress
	dir, err := Resolve(context.Background(), "org/tiny", o)
	if err != nil {
		t.Fatal(err)
	}
	f.checkLayout(t, cache, "org/tiny", dir, "config.json", "model.safetensors")
	if _, err := os.Stat(filepath.Join(cache, ".locks", "models--org--tiny", f.files["model.safetensors"].etag+".lock")); err != nil {
		t.Errorf("lock file: %v", err)
	}
	// The CDN must not receive the token, and the Hub got HEAD then GET for
	// config.json, HEAD (302) for the model, then the CDN GET.
	reqs := f.requests()
	want := []string{
		"HUB HEAD /org/tiny/resolve/main/config.json",
		"HUB GET /org/tiny/resolve/main/config.json",
		"HUB HEAD /org/tiny/resolve/" + f.commit + "/model.safetensors",
		"CDN GET /cdn/" + f.files["model.safetensors"].etag + " range=",
	}
	if strings.Join(reqs, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(reqs, "\n"), strings.Join(want, "\n"))
	}
	out := progress.String()
	if !strings.Contains(out, "model.safetensors") || !strings.Contains(out, "6.6 MB") || !strings.HasSuffix(out, "\n") || strings.Contains(out, "\r") {
		t.Errorf("progress output (not a terminal):\n%s", out)
	}
	// The file opens as safetensors.
	sf, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	sf.Close()

	// Second Resolve: no network at all.
	f.reset()
	dir2, err := Resolve(context.Background(), "org/tiny", f.opts(cache))
	if err != nil || dir2 != dir {
		t.Fatalf("second Resolve: %s, %v", dir2, err)
	}
	if r := f.requests(); len(r) != 0 {
		t.Errorf("cached Resolve made requests: %v", r)
	}
	// Offline too, and by commit hash.
	t.Setenv("HF_HUB_OFFLINE", "1")
	if d, err := Resolve(context.Background(), "org/tiny@"+f.commit, f.opts(cache)); err != nil || d != dir {
		t.Errorf("offline by commit: %s %v", d, err)
	}
	if d, err := Resolve(context.Background(), "org/tiny", Options{CacheDir: cache}); err != nil || d != dir {
		t.Errorf("offline: %s %v", d, err)
	}
	if r := f.requests(); len(r) != 0 {
		t.Errorf("offline Resolve made requests: %v", r)
	}
}

// TestOptionalFiles: optional files come with a download when the
// repository has them, are skipped when it has not, and never make a
// cached model reach for the network.
func TestOptionalFiles(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	cache := t.TempDir()
	o := f.opts(cache)
	o.Optional = []string{"sub/extra.txt", "vocab.json"}
	dir, err := Resolve(context.Background(), "org/tiny", o)
	if err != nil {
		t.Fatal(err)
	}
	f.checkLayout(t, cache, "org/tiny", dir, "config.json", "model.safetensors", "sub/extra.txt")
	if _, err := os.Stat(filepath.Join(dir, "vocab.json")); err == nil {
		t.Error("a file the repository lacks is in the snapshot")
	}
	reqs := strings.Join(f.requests(), "\n")
	if !strings.Contains(reqs, "HEAD /org/tiny/resolve/"+f.commit+"/vocab.json") {
		t.Errorf("vocab.json was not asked for at the snapshot's commit:\n%s", reqs)
	}
	f.reset()
	if d, err := Resolve(context.Background(), "org/tiny", o); err != nil || d != dir {
		t.Fatalf("second Resolve: %s, %v", d, err)
	}
	if r := f.requests(); len(r) != 0 {
		t.Errorf("a cached model with an optional file missing made requests: %v", r)
	}
	o.Optional = []string{"../escape"}
	if _, err := Resolve(context.Background(), "org/tiny", o); err == nil {
		t.Error("an optional file name outside the snapshot was accepted")
	}
}

func TestMissingFileInSnapshotIsFetched(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	cache := t.TempDir()
	o := f.opts(cache)
	o.Files = []string{"config.json"}
	if _, err := Resolve(context.Background(), "org/tiny", o); err != nil {
		t.Fatal(err)
	}
	f.reset()
	o.Files = []string{"config.json", "model.safetensors", "sub/extra.txt"}
	dir, err := Resolve(context.Background(), "org/tiny", o)
	if err != nil {
		t.Fatal(err)
	}
	f.checkLayout(t, cache, "org/tiny", dir, o.Files...)
	for _, r := range f.requests() {
		if strings.Contains(r, "GET") && strings.Contains(r, "config.json") {
			t.Errorf("config.json downloaded again: %s", r)
		}
	}
}

func TestResumeAfterDrop(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	cache := t.TempDir()
	f.dropGets = 1
	dir, err := Resolve(context.Background(), "org/tiny", f.opts(cache))
	if err != nil {
		t.Fatal(err)
	}
	f.checkLayout(t, cache, "org/tiny", dir, "config.json", "model.safetensors")
	half := len(f.files["model.safetensors"].data) / 2
	var gets []string
	for _, r := range f.requests() {
		if strings.HasPrefix(r, "CDN GET") {
			gets = append(gets, r)
		}
	}
	if len(gets) != 2 || !strings.HasSuffix(gets[0], "range=") || !strings.HasSuffix(gets[1], fmt.Sprintf("range=bytes=%d-", half)) {
		t.Errorf("CDN GETs: %v", gets)
	}
}

func TestStalledDownloadResumes(t *testing.T) {
	cleanEnv(t)
	old := stallTimeout
	stallTimeout = 200 * time.Millisecond
	defer func() { stallTimeout = old }()
	f := newFakeHub(t)
	f.dropGets, f.stall = 2, true
	cache := t.TempDir()
	dir, err := Resolve(context.Background(), "org/tiny", f.opts(cache))
	if err != nil {
		t.Fatal(err)
	}
	f.checkLayout(t, cache, "org/tiny", dir, "model.safetensors")
	half := len(f.files["model.safetensors"].data) / 2
	if r := f.requests(); !strings.HasSuffix(r[len(r)-1], fmt.Sprintf("range=bytes=%d-", half)) {
		t.Errorf("requests %v", r)
	}
}

func TestResumeAcrossCalls(t *testing.T) {
	cleanEnv(t)
	old := maxRetries
	maxRetries = 0
	defer func() { maxRetries = old }()
	f := newFakeHub(t)
	cache := t.TempDir()
	model := f.files["model.safetensors"]
	f.dropGets = 1
	f.dropAt = 1 << 20
	_, err := Resolve(context.Background(), "org/tiny", f.opts(cache))
	if err == nil || !strings.Contains(err.Error(), "will be resumed next time") {
		t.Fatalf("dropped download: %v", err)
	}
	inc := filepath.Join(cache, "models--org--tiny", "blobs", model.etag+".incomplete")
	fi, serr := os.Stat(inc)
	if serr != nil || fi.Size() != 1<<20 {
		t.Fatalf("partial file: %v %v (error was %v)", fi, serr, err)
	}
	f.reset()
	dir, err := Resolve(context.Background(), "org/tiny", f.opts(cache))
	if err != nil {
		t.Fatal(err)
	}
	f.checkLayout(t, cache, "org/tiny", dir, "config.json", "model.safetensors")
	found := false
	for _, r := range f.requests() {
		if strings.HasPrefix(r, "CDN GET") {
			found = strings.HasSuffix(r, "range=bytes=1048576-")
		}
	}
	if !found {
		t.Errorf("no Range request: %v", f.requests())
	}
}

func TestServerIgnoresRange(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	f.ignoreRange = true
	cache := t.TempDir()
	model := f.files["model.safetensors"]
	blobs := filepath.Join(cache, "models--org--tiny", "blobs")
	os.MkdirAll(blobs, 0o755)
	// A partial file with wrong bytes: a 200 answer replaces it entirely.
	os.WriteFile(filepath.Join(blobs, model.etag+".incomplete"), bytes.Repeat([]byte{0xff}, 5000), 0o644)
	dir, err := Resolve(context.Background(), "org/tiny", f.opts(cache))
	if err != nil {
		t.Fatal(err)
	}
	f.checkLayout(t, cache, "org/tiny", dir, "config.json", "model.safetensors")
	if r := f.requests(); !strings.HasSuffix(r[len(r)-1], "range=bytes=5000-") {
		t.Errorf("requests %v", r)
	}
}

func TestCorruptPartialIsRejected(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	cache := t.TempDir()
	model := f.files["model.safetensors"]
	blobs := filepath.Join(cache, "models--org--tiny", "blobs")
	os.MkdirAll(blobs, 0o755)
	inc := filepath.Join(blobs, model.etag+".incomplete")
	os.WriteFile(inc, bytes.Repeat([]byte{0xff}, 5000), 0o644)
	_, err := Resolve(context.Background(), "org/tiny", f.opts(cache))
	if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(inc); err == nil {
		t.Error("corrupt partial file kept")
	}
	// Next attempt starts from scratch and succeeds.
	dir, err := Resolve(context.Background(), "org/tiny", f.opts(cache))
	if err != nil {
		t.Fatal(err)
	}
	f.checkLayout(t, cache, "org/tiny", dir, "model.safetensors")
}

func TestToken(t *testing.T) {
	home := cleanEnv(t)
	f := newFakeHub(t)
	o := f.opts(t.TempDir())
	o.Token = "hf_option"
	if _, err := Resolve(context.Background(), "org/tiny", o); err != nil {
		t.Fatal(err)
	}
	for _, a := range f.hubAuth {
		if a != "Bearer hf_option" {
			t.Errorf("hub got Authorization %q", a)
		}
	}
	for _, a := range f.cdnAuth {
		if a != "" {
			t.Errorf("token leaked to the CDN: %q", a)
		}
	}

	// Environment precedence: HF_TOKEN > HUGGING_FACE_HUB_TOKEN > token file.
	tokenFile := filepath.Join(home, "hf", "token")
	os.MkdirAll(filepath.Dir(tokenFile), 0o755)
	os.WriteFile(tokenFile, []byte("hf_file\n"), 0o600)
	if tok := Token(); tok != "hf_file" {
		t.Errorf("token file: %q", tok)
	}
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "hf_legacy")
	if tok := Token(); tok != "hf_legacy" {
		t.Errorf("legacy env: %q", tok)
	}
	t.Setenv("HF_TOKEN", "hf_env")
	if tok := Token(); tok != "hf_env" {
		t.Errorf("HF_TOKEN: %q", tok)
	}
	alt := filepath.Join(home, "tok")
	os.WriteFile(alt, []byte("hf_path"), 0o600)
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	t.Setenv("HF_TOKEN_PATH", alt)
	if tok := Token(); tok != "hf_path" {
		t.Errorf("HF_TOKEN_PATH: %q", tok)
	}

	// The env token is sent when Options.Token is empty; gated access works with it.
	t.Setenv("HF_TOKEN", "good")
	f.reset()
	if _, err := Resolve(context.Background(), "org/gated", f.opts(t.TempDir())); err != nil {
		t.Fatal(err)
	}
	if len(f.hubAuth) == 0 || f.hubAuth[0] != "Bearer good" {
		t.Errorf("hub got %v", f.hubAuth)
	}
}

func TestOffline(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	cache := t.TempDir()
	for _, v := range []string{"1", "true", "YES", "on"} {
		t.Setenv("HF_HUB_OFFLINE", v)
		_, err := Resolve(context.Background(), "org/tiny", f.opts(cache))
		if !errors.Is(err, ErrNotCached) {
			t.Fatalf("HF_HUB_OFFLINE=%s: %v", v, err)
		}
		for _, s := range []string{`"org/tiny"`, "not in the cache", "HF_HUB_OFFLINE", filepath.Join(cache, "models--org--tiny"), "model.safetensors"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("message %q lacks %q", err, s)
			}
		}
	}
	if r := f.requests(); len(r) != 0 {
		t.Errorf("offline made requests: %v", r)
	}
	t.Setenv("HF_HUB_OFFLINE", "0")
	o := f.opts(cache)
	o.Offline = true
	if _, err := Resolve(context.Background(), "org/tiny", o); !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "Options.Offline") {
		t.Errorf("Options.Offline: %v", err)
	}
	// Cached but one file missing: offline names it and the snapshot.
	o.Offline = false
	o.Files = []string{"config.json"}
	if _, err := Resolve(context.Background(), "org/tiny", o); err != nil {
		t.Fatal(err)
	}
	o.Offline = true
	o.Files = nil
	_, err := Resolve(context.Background(), "org/tiny", o)
	if !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "missing model.safetensors") || !strings.Contains(err.Error(), filepath.Join("snapshots", f.commit)) {
		t.Errorf("partial cache offline: %v", err)
	}
}

func TestHTTPErrors(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	cases := []struct {
		id    string
		files []string
		token string
		kind  error
		want  []string
	}{
		{"org/tiny", []string{"nope.bin"}, "", ErrNotFound, []string{`file "nope.bin" not found in model "org/tiny" at revision "main"`, "404"}},
		{"org/missing", nil, "", ErrNotFound, []string{`model "org/missing" not found`, "404"}},
		{"org/tiny@v9", nil, "", ErrNotFound, []string{`revision "v9" not found in model "org/tiny"`}},
		{"org/private", nil, "", ErrUnauthorized, []string{`model "org/private"`, "401", "private or gated", "HF_TOKEN"}},
		{"org/private", nil, "hf_x", ErrUnauthorized, []string{"401", "token that was sent was rejected"}},
		{"org/gated", nil, "", ErrUnauthorized, []string{`model "org/gated"`, "gated", "403", f.hub.URL + "/org/gated", "restricted"}},
	}
	for _, c := range cases {
		o := f.opts(t.TempDir())
		o.Files, o.Token = c.files, c.token
		_, err := Resolve(context.Background(), c.id, o)
		var he *HTTPError
		if !errors.Is(err, c.kind) || !errors.As(err, &he) {
			t.Errorf("%s: %v", c.id, err)
			continue
		}
		for _, s := range c.want {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q lacks %q", c.id, err, s)
			}
		}
	}
	f.noCommit = true
	if _, err := Resolve(context.Background(), "org/tiny", f.opts(t.TempDir())); !errors.Is(err, ErrNotHub) {
		t.Errorf("no X-Repo-Commit: %v", err)
	}
	// Nothing listening.
	o := Options{Endpoint: "http://127.0.0.1:1", CacheDir: t.TempDir()}
	if _, err := Resolve(context.Background(), "org/tiny", o); err == nil || !strings.Contains(err.Error(), "org/tiny") {
		t.Errorf("connection refused: %v", err)
	}
}

func TestRenamedRepoAndRevision(t *testing.T) {
	cleanEnv(t)
	f := newFakeHub(t)
	cache := t.TempDir()
	dir, err := Resolve(context.Background(), "old/tiny", f.opts(cache))
	if err != nil {
		t.Fatal(err)
	}
	f.checkLayout(t, cache, "old/tiny", dir, "config.json", "model.safetensors")

	cache2 := t.TempDir()
	dir, err = Resolve(context.Background(), "org/tiny@"+f.commit, f.opts(cache2))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache2, "models--org--tiny", "snapshots", f.commit); dir != want {
		t.Errorf("dir %s", dir)
	}
	if _, err := os.Stat(filepath.Join(cache2, "models--org--tiny", "refs", f.commit)); err == nil {
		t.Error("a ref named after a commit was written")
	}
	o := f.opts(cache2)
	o.Revision = "main"
	if _, err := Resolve(context.Background(), "org/tiny@v2", o); !errors.Is(err, ErrBadID) {
		t.Errorf("conflicting revisions: %v", err)
	}
}

func TestEnvDefaults(t *testing.T) {
	home := cleanEnv(t)
	t.Setenv("HF_HOME", "")
	if d := CacheDir(); d != filepath.Join(home, ".cache", "huggingface", "hub") {
		t.Errorf("default cache %s", d)
	}
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if d := CacheDir(); d != "/xdg/huggingface/hub" {
		t.Errorf("XDG %s", d)
	}
	t.Setenv("HF_HOME", "~/hfhome")
	if d := CacheDir(); d != filepath.Join(home, "hfhome", "hub") {
		t.Errorf("HF_HOME %s", d)
	}
	t.Setenv("HUGGINGFACE_HUB_CACHE", "/legacy")
	if d := CacheDir(); d != "/legacy" {
		t.Errorf("legacy %s", d)
	}
	t.Setenv("HF_HUB_CACHE", "/hubcache")
	if d := CacheDir(); d != "/hubcache" {
		t.Errorf("HF_HUB_CACHE %s", d)
	}
	if e := Endpoint(); e != DefaultEndpoint {
		t.Errorf("endpoint %s", e)
	}
	t.Setenv("HF_ENDPOINT", "https://mirror.example/")
	if e := Endpoint(); e != "https://mirror.example" {
		t.Errorf("endpoint %s", e)
	}
	// Resolve driven by the environment alone.
	f := newFakeHub(t)
	cache := t.TempDir()
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_ENDPOINT", f.hub.URL+"/")
	dir, err := Resolve(context.Background(), "org/tiny", Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.checkLayout(t, cache, "org/tiny", dir, "config.json", "model.safetensors")
}

func TestLocalFolder(t *testing.T) {
	cleanEnv(t)
	if d, err := Resolve(context.Background(), fixtureDir, Options{}); err != nil || d != fixtureDir {
		t.Errorf("fixture: %s %v", d, err)
	}
	tmp := t.TempDir()
	os.WriteFile(filepath.Join(tmp, "config.json"), []byte("{}"), 0o644)
	_, err := Resolve(context.Background(), tmp, Options{})
	if err == nil || !strings.Contains(err.Error(), "model.safetensors") || !strings.Contains(err.Error(), tmp) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Resolve(context.Background(), filepath.Join(tmp, "config.json"), Options{}); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("file: %v", err)
	}
	if _, err := Resolve(context.Background(), "./no/such/dir", Options{}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing dir: %v", err)
	}
	for _, bad := range []string{"a--b", "org/na me", "-x", "org/.git", "x.git", ""} {
		if _, err := Resolve(context.Background(), bad, Options{Offline: true, CacheDir: tmp}); !errors.Is(err, ErrBadID) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := Resolve(context.Background(), "gpt2", Options{Offline: true, CacheDir: tmp, Files: []string{"../x"}}); !errors.Is(err, ErrBadID) {
		t.Errorf("bad file name: %v", err)
	}
}

func TestParseID(t *testing.T) {
	for _, c := range []struct{ in, id, rev string }{
		{"gpt2", "gpt2", ""}, {"openai-community/gpt2", "openai-community/gpt2", ""},
		{"org/m.v1_x@v1.0", "org/m.v1_x", "v1.0"}, {"org/m@refs/pr/1", "org/m", "refs/pr/1"},
	} {
		id, rev, err := parseID(c.in, "")
		if err != nil || id != c.id || rev != c.rev {
			t.Errorf("%q: %q %q %v", c.in, id, rev, err)
		}
	}
}
