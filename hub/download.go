package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"nnscope/progress"
)

// Download retries: a dropped connection resumes with a Range request.
// A HEAD answer must arrive within headTimeout; a GET that receives no
// bytes for stallTimeout is abandoned and resumed.
var (
	maxRetries   = 5
	retryDelay   = time.Second
	headTimeout  = 10 * time.Second // huggingface_hub's default; $HF_HUB_ETAG_TIMEOUT overrides
	stallTimeout = 60 * time.Second
)

// etagTimeout is how long a HEAD request may take: $HF_HUB_ETAG_TIMEOUT
// seconds (as huggingface_hub), else headTimeout.
func etagTimeout() time.Duration {
	if s := strings.TrimSpace(os.Getenv("HF_HUB_ETAG_TIMEOUT")); s != "" {
		if v, err := strconv.ParseFloat(s, 64); err == nil && v > 0 && v < 1e6 {
			return time.Duration(v * float64(time.Second))
		}
	}
	return headTimeout
}

// networkError explains a HEAD request that got no HTTP answer: the model
// is not in the cache and the Hub cannot be reached.
func (d *downloader) networkError(name string, err error, timedOut bool) error {
	what := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		what = ue.Err.Error()
	}
	if timedOut {
		what = fmt.Sprintf("no answer within %v (HF_HUB_ETAG_TIMEOUT sets the limit in seconds)", etagTimeout())
	}
	return &NetworkError{ID: d.id, File: name, Endpoint: d.o.Endpoint, Err: err,
		Msg: fmt.Sprintf("hub: model %q is not (fully) in the cache %s, and downloading %s from %s failed: %s; check the network connection (or HF_ENDPOINT), "+
			"set HF_HUB_OFFLINE=1 to use only the cache, or pass the path of a local model folder",
			d.id, d.o.CacheDir, name, d.o.Endpoint, what)}
}

type downloader struct {
	o        Options
	id, repo string
}

// fileMeta is what the Hub's HEAD answer says about a file.
type fileMeta struct {
	commit string
	etag   string
	size   int64  // -1 when unknown
	url    string // where to GET the content (a CDN, after a redirect)
}

type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

func (d *downloader) run(ctx context.Context) (string, error) {
	rev := d.o.Revision
	commit := ""
	for _, f := range d.o.Files {
		r := rev
		if commit != "" {
			r = commit // every file from the same commit
		}
		c, err := d.file(ctx, r, f)
		if err != nil {
			return "", err
		}
		if commit == "" {
			commit = c
			if err := d.writeRef(rev, commit); err != nil {
				return "", err
			}
		} else if c != commit {
			return "", d.commitMismatch(commit, c, f)
		}
	}
	snap := filepath.Join(d.repo, "snapshots", commit)
	for _, f := range d.o.Optional {
		if regular(filepath.Join(snap, filepath.FromSlash(f))) {
			continue
		}
		c, err := d.file(ctx, commit, f)
		if errors.Is(err, ErrNotFound) {
			continue // the repository has no such file
		}
		if err != nil {
			return "", err
		}
		if c != commit {
			return "", d.commitMismatch(commit, c, f)
		}
	}
	return snap, nil
}

// commitMismatch: the server put file f at commit c, not at the commit
// of the first file.
func (d *downloader) commitMismatch(commit, c, f string) error {
	return fmt.Errorf("hub: %s: server answered commit %s for %s but %s for %s: %w", d.id, commit, d.o.Files[0], c, f, ErrNotHub)
}

func (d *downloader) writeRef(rev, commit string) error {
	if rev == commit {
		return nil
	}
	path := filepath.Join(d.repo, "refs", filepath.FromSlash(rev))
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if err := os.WriteFile(path, []byte(commit), 0o644); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return nil
}

// file makes sure one file of revision rev is in the cache; it returns the
// commit it belongs to.
func (d *downloader) file(ctx context.Context, rev, name string) (string, error) {
	meta, err := d.head(ctx, rev, name)
	if err != nil {
		return "", err
	}
	blob := filepath.Join(d.repo, "blobs", meta.etag)
	pointer := filepath.Join(d.repo, "snapshots", meta.commit, filepath.FromSlash(name))
	if regular(blob) && regular(pointer) {
		return meta.commit, nil
	}
	if !regular(blob) {
		lock := filepath.Join(d.o.CacheDir, ".locks", RepoFolderName(d.id), meta.etag+".lock")
		unlock, err := lockFile(ctx, lock)
		if err != nil {
			return "", fmt.Errorf("hub: locking %s: %w", lock, err)
		}
		defer unlock()
		if !regular(blob) { // another process may have finished it meanwhile
			if err := d.fetch(ctx, name, meta, blob); err != nil {
				return "", err
			}
		}
	}
	if err := link(pointer, blob); err != nil {
		return "", fmt.Errorf("hub: %w", err)
	}
	return meta.commit, nil
}

func regular(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

func (d *downloader) fileURL(rev, name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return d.o.Endpoint + "/" + d.id + "/resolve/" + url.PathEscape(rev) + "/" + strings.Join(parts, "/")
}

func (d *downloader) newRequest(ctx context.Context, method, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	req.Header.Set("User-Agent", "nnscope-hub/1 (Go)")
	req.Header.Set("Accept-Encoding", "identity")
	// The token goes to the Hub only, never to the CDN it redirects to (Go's
	// client also drops it on redirects to other hosts).
	if d.o.Token != "" {
		if ep, err := url.Parse(d.o.Endpoint); err == nil && ep.Host == req.URL.Host {
			req.Header.Set("Authorization", "Bearer "+d.o.Token)
		}
	}
	return req, nil
}

// head asks the Hub about a file without following redirects to the CDN:
// the Hub's own answer carries X-Repo-Commit, X-Linked-Etag and
// X-Linked-Size. Relative redirects (renamed repositories) are followed.
func (d *downloader) head(ctx context.Context, rev, name string) (*fileMeta, error) {
	client := *d.o.HTTPClient
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	u := d.fileURL(rev, name)
	for hops := 0; ; hops++ {
		hctx, cancel := context.WithTimeout(ctx, etagTimeout())
		req, err := d.newRequest(hctx, http.MethodHead, u)
		if err != nil {
			cancel()
			return nil, err
		}
		resp, err := client.Do(req)
		timedOut := hctx.Err() == context.DeadlineExceeded && ctx.Err() == nil
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("hub: %s: asking for %s: %w", d.id, name, ctx.Err())
			}
			return nil, d.networkError(name, err, timedOut)
		}
		resp.Body.Close()
		if resp.StatusCode >= 400 {
			return nil, d.httpError(resp, rev, name, u)
		}
		loc := resp.Header.Get("Location")
		redirect := resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != ""
		var target *url.URL
		if redirect {
			target, err = req.URL.Parse(loc)
			if err != nil {
				return nil, fmt.Errorf("hub: %s: bad redirect for %s: %w", d.id, name, err)
			}
			if rel, _ := url.Parse(loc); rel != nil && rel.Host == "" {
				if hops >= 10 {
					return nil, fmt.Errorf("hub: %s: too many redirects for %s", d.id, name)
				}
				u = target.String()
				continue
			}
		}
		m := &fileMeta{
			commit: resp.Header.Get("X-Repo-Commit"),
			etag:   resp.Header.Get("X-Linked-Etag"),
			size:   -1,
			url:    u,
		}
		if m.etag == "" {
			m.etag = resp.Header.Get("ETag")
		}
		m.etag = strings.Trim(strings.TrimPrefix(strings.TrimSpace(m.etag), "W/"), `"`)
		size := resp.Header.Get("X-Linked-Size")
		if size == "" && !redirect {
			size = resp.Header.Get("Content-Length")
		}
		if n, err := strconv.ParseInt(size, 10, 64); err == nil && n >= 0 {
			m.size = n
		}
		if redirect {
			m.url = target.String()
		}
		if m.commit == "" || m.etag == "" {
			return nil, fmt.Errorf("hub: %s did not answer like a Hugging Face Hub for %s/%s (no X-Repo-Commit or ETag header); check HF_ENDPOINT / Options.Endpoint: %w", d.o.Endpoint, d.id, name, ErrNotHub)
		}
		if strings.ContainsAny(m.etag, `/\`) || strings.Contains(m.etag, "..") || len(m.etag) > 255 {
			return nil, fmt.Errorf("hub: %s: unusable ETag %q for %s: %w", d.id, m.etag, name, ErrNotHub)
		}
		if strings.ContainsAny(m.commit, `/\`) || strings.Contains(m.commit, "..") {
			return nil, fmt.Errorf("hub: %s: unusable X-Repo-Commit %q for %s: %w", d.id, m.commit, name, ErrNotHub)
		}
		return m, nil
	}
}

func (d *downloader) httpError(resp *http.Response, rev, name, u string) error {
	e := &HTTPError{
		ID: d.id, Revision: rev, File: name, URL: u, Status: resp.StatusCode,
		Code: resp.Header.Get("X-Error-Code"), ServerMsg: resp.Header.Get("X-Error-Message"),
	}
	tokenHint := "set HF_TOKEN (or Options.Token) to a token of an account that has access"
	if d.o.Token != "" {
		tokenHint = "the token that was sent was rejected or has no access to it"
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		e.Kind = ErrUnauthorized
		e.Msg = fmt.Sprintf("model %q not found, or it is private or gated and needs authentication (HTTP 401 for %s): check the id; if it exists, %s", d.id, name, tokenHint)
	case resp.StatusCode == http.StatusForbidden || e.Code == "GatedRepo":
		e.Kind = ErrUnauthorized
		e.Msg = fmt.Sprintf("access to model %q is restricted (gated or private; HTTP %d for %s): accept its conditions at %s/%s, and %s", d.id, resp.StatusCode, name, d.o.Endpoint, d.id, tokenHint)
	case resp.StatusCode == http.StatusNotFound:
		e.Kind = ErrNotFound
		switch e.Code {
		case "EntryNotFound":
			e.Msg = fmt.Sprintf("file %q not found in model %q at revision %q (HTTP 404)", name, d.id, rev)
		case "RevisionNotFound":
			e.Msg = fmt.Sprintf("revision %q not found in model %q (HTTP 404 for %s)", rev, d.id, name)
		case "RepoNotFound":
			e.Msg = fmt.Sprintf("model %q not found (HTTP 404 for %s)", d.id, name)
		default:
			e.Msg = fmt.Sprintf("model %q, its revision %q or its file %q not found (HTTP 404)", d.id, rev, name)
		}
	default:
		e.Msg = fmt.Sprintf("HTTP %s for %s/%s at revision %q (%s)", resp.Status, d.id, name, rev, u)
	}
	return e
}

// fetch downloads meta.url into blob via blob.incomplete, resuming what a
// previous attempt left there.
func (d *downloader) fetch(ctx context.Context, name string, meta *fileMeta, blob string) error {
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	tmp := blob + ".incomplete"
	var bar *progress.Bar
	if d.o.Progress != nil {
		bar = progress.New(d.o.Progress, name, meta.size)
	}
	for attempt := 0; ; attempt++ {
		err := d.fetchOnce(ctx, name, meta, tmp, bar)
		if err == nil {
			break
		}
		var r *retryable
		if !errors.As(err, &r) || ctx.Err() != nil || attempt >= maxRetries {
			bar.Finish()
			if ctx.Err() != nil {
				return fmt.Errorf("hub: downloading %s/%s: %w", d.id, name, ctx.Err())
			}
			if fi, serr := os.Stat(tmp); r != nil && serr == nil && fi.Size() > 0 {
				return fmt.Errorf("%w (gave up after %d attempts; the %d bytes in %s will be resumed next time)", err, attempt+1, fi.Size(), tmp)
			}
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(retryDelay * time.Duration(attempt+1)):
		}
	}
	if err := verify(tmp, meta); err != nil {
		os.Remove(tmp)
		bar.Finish()
		return fmt.Errorf("hub: downloading %s/%s: %w", d.id, name, err)
	}
	bar.Finish()
	if err := os.Rename(tmp, blob); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return nil
}

func (d *downloader) fetchOnce(ctx context.Context, name string, meta *fileMeta, tmp string, bar *progress.Bar) (err error) {
	fail := func(err error) error {
		return &retryable{fmt.Errorf("hub: downloading %s/%s: %w", d.id, name, err)}
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("hub: %w", cerr)
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	offset := fi.Size()
	if meta.size >= 0 && offset == meta.size {
		return nil
	}
	if meta.size >= 0 && offset > meta.size {
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("hub: %w", err)
		}
		offset = 0
	}
	// A watchdog cancels the attempt when no bytes arrive for stallTimeout.
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchdog := time.AfterFunc(stallTimeout, cancel)
	defer watchdog.Stop()
	req, err := d.newRequest(actx, http.MethodGet, meta.url)
	if err != nil {
		return err
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := d.o.HTTPClient.Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	total := int64(-1)
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		start, end, tot, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != offset {
			f.Truncate(0)
			return fail(fmt.Errorf("server answered range %q to a request from byte %d; restarting", resp.Header.Get("Content-Range"), offset))
		}
		total = tot
		if tot < 0 {
			total = end + 1 // open-ended request: the range runs to the end
		}
	case resp.StatusCode == http.StatusOK:
		if offset > 0 { // the server ignored Range: start over
			if err := f.Truncate(0); err != nil {
				return fmt.Errorf("hub: %w", err)
			}
			offset = 0
		}
		total = resp.ContentLength
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		f.Truncate(0)
		return fail(fmt.Errorf("server refused to resume from byte %d; restarting", offset))
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fail(fmt.Errorf("HTTP %s", resp.Status))
	default:
		return d.httpError(resp, meta.commit, name, meta.url)
	}
	if total >= 0 {
		if meta.size < 0 {
			meta.size = total
			bar.SetTotal(total)
		} else if total != meta.size {
			return fmt.Errorf("hub: downloading %s/%s: the server sends %d bytes but announced %d: %w", d.id, name, total, meta.size, ErrIntegrity)
		}
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if offset > 0 && bar.Done() == 0 {
		bar.Skip(offset) // resumed: not part of this session's rate
	} else {
		bar.Set(offset)
	}
	n, err := io.Copy(io.MultiWriter(f, bar), &kickReader{resp.Body, watchdog})
	if err != nil {
		if ctx.Err() == nil && actx.Err() != nil {
			err = fmt.Errorf("no data for %v: %w", stallTimeout, err)
		}
		return fail(err)
	}
	if meta.size >= 0 && offset+n != meta.size {
		return fail(fmt.Errorf("connection closed after %d of %d bytes", offset+n, meta.size))
	}
	return nil
}

// parseContentRange parses "bytes START-END/TOTAL" (TOTAL may be "*").
func parseContentRange(s string) (start, end, total int64, ok bool) {
	s, found := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2 error
	start, err1 = strconv.ParseInt(a, 10, 64)
	end, err2 = strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, 0, false
	}
	total = -1
	if tot != "*" {
		t, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || t <= end {
			return 0, 0, 0, false
		}
		total = t
	}
	return start, end, total, true
}

// verify checks the size and, for LFS files (whose ETag is the sha256 of
// the content), the checksum.
func verify(path string, meta *fileMeta) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if meta.size >= 0 && fi.Size() != meta.size {
		return fmt.Errorf("got %d bytes, want %d: %w", fi.Size(), meta.size, ErrIntegrity)
	}
	if len(meta.etag) != 64 {
		return nil
	}
	if _, err := hex.DecodeString(meta.etag); err != nil {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(meta.etag) {
		return fmt.Errorf("sha256 %s, want %s: %w", got, meta.etag, ErrIntegrity)
	}
	return nil
}

// link points the snapshot file at the blob with a relative symlink
// (../../blobs/ETAG), falling back to a copy where symlinks are refused.
func link(pointer, blob string) error {
	dir := filepath.Dir(pointer)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(dir, blob)
	if err != nil {
		rel = blob
	}
	if target, err := os.Readlink(pointer); err == nil && target == rel {
		return nil
	}
	os.Remove(pointer)
	if err := os.Symlink(rel, pointer); err == nil {
		return nil
	}
	src, err := os.Open(blob)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(pointer)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// kickReader resets the watchdog whenever data arrives.
type kickReader struct {
	r io.Reader
	t *time.Timer
}

func (k *kickReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if n > 0 {
		k.t.Reset(stallTimeout)
	}
	return n, err
}
