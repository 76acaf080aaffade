// Package hub finds a model on disk or downloads it from the Hugging Face Hub
// into the Hugging Face cache, laid out exactly as huggingface_hub lays it out
// (models--ORG--NAME/{refs,snapshots,blobs}), so Python tools and nnscope
// share one cache.
package hub

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Options tune Resolve. The zero value uses the environment like
// huggingface_hub does.
type Options struct {
	Endpoint   string       // default $HF_ENDPOINT, else https://huggingface.co
	Token      string       // default Token(): $HF_TOKEN, $HUGGING_FACE_HUB_TOKEN, token file
	CacheDir   string       // default CacheDir(): $HF_HUB_CACHE, $HF_HOME/hub, ...
	Revision   string       // branch, tag or commit hash; default "main"
	Offline    bool         // never use the network (also when $HF_HUB_OFFLINE is set)
	Progress   io.Writer    // progress bars go here; nil draws none
	HTTPClient *http.Client // default http.DefaultClient
	Files      []string     // default DefaultFiles (config.json, model.safetensors)
	// Optional files are fetched with Files when a download happens, and
	// skipped when the repository has none; a folder or a cache that
	// already holds Files is used as it is, without the network.
	Optional []string
}

func (o Options) withDefaults() Options {
	if o.Endpoint == "" {
		o.Endpoint = Endpoint()
	}
	o.Endpoint = strings.TrimRight(o.Endpoint, "/")
	if o.Token == "" {
		o.Token = Token()
	}
	if o.CacheDir == "" {
		o.CacheDir = CacheDir()
	}
	o.CacheDir = expandHome(o.CacheDir)
	if o.Revision == "" {
		o.Revision = "main"
	}
	o.Offline = o.Offline || OfflineEnv()
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if len(o.Files) == 0 {
		o.Files = DefaultFiles
	}
	return o
}

// Resolve returns a local folder holding the model's files (by default
// config.json and model.safetensors).
//
// idOrPath is either an existing local folder, returned as is after checking
// that it holds the files, or a Hub model id "ORG/NAME" or "NAME", optionally
// suffixed "@REVISION". A Hub model already in the cache is used without any
// network access; otherwise the missing files are downloaded into the cache
// (resuming a partial download) and the snapshot folder is returned.
func Resolve(ctx context.Context, idOrPath string, opts Options) (string, error) {
	if dir, ok, err := localFolder(idOrPath, opts.Files); ok || err != nil {
		return dir, err
	}
	id, rev, err := parseID(idOrPath, opts.Revision)
	if err != nil {
		return "", err
	}
	opts.Revision = rev
	o := opts.withDefaults()
	for _, f := range slices.Concat(o.Files, o.Optional) {
		if err := checkFilename(f); err != nil {
			return "", err
		}
	}
	repo := repoDir(o.CacheDir, id)
	snap, commit, missing := cached(repo, o.Revision, o.Files)
	if len(missing) == 0 {
		return snap, nil
	}
	if o.Offline {
		return "", offlineError(id, o, repo, commit, missing)
	}
	d := &downloader{o: o, id: id, repo: repo}
	return d.run(ctx)
}

// localFolder handles idOrPath naming a local folder. ok reports whether it
// does (or looks like a path, in which case a missing folder is an error).
func localFolder(p string, files []string) (string, bool, error) {
	if len(files) == 0 {
		files = DefaultFiles
	}
	fi, err := os.Stat(expandHome(p))
	if err != nil {
		if looksLikePath(p) {
			return "", false, fmt.Errorf("hub: model folder %q: %w", p, err)
		}
		return "", false, nil
	}
	if !fi.IsDir() {
		return "", false, fmt.Errorf("hub: %q is a file, not a model folder (want a folder with %s, or a Hub id)", p, strings.Join(files, " and "))
	}
	var missing []string
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(expandHome(p), filepath.FromSlash(f))); err != nil {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return "", false, &MissingError{Files: missing, Kind: ErrNotFound, Dir: p,
			Msg: fmt.Sprintf("hub: model folder %q has no %s", p, strings.Join(missing, " and no "))}
	}
	return p, true, nil
}

func looksLikePath(p string) bool {
	return strings.HasPrefix(p, "/") || strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") ||
		strings.HasPrefix(p, "~") || p == "." || p == ".." || strings.Count(p, "/") > 1 ||
		strings.Contains(p, `\`) || filepath.IsAbs(p)
}

var idPart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// parseID splits "ORG/NAME@REV" and validates it like huggingface_hub's
// validate_repo_id.
func parseID(s, rev string) (id, revision string, err error) {
	id = s
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		id = s[:i]
		r := s[i+1:]
		if rev != "" && rev != r {
			return "", "", fmt.Errorf("hub: %q names revision %q but Options.Revision is %q: %w", s, r, rev, ErrBadID)
		}
		rev = r
	}
	bad := func(why string) (string, string, error) {
		return "", "", fmt.Errorf("hub: %q is neither a local folder nor a Hub model id (%s): %w", s, why, ErrBadID)
	}
	if id == "" || len(id) > 96 {
		return bad("ids are ORG/NAME or NAME, at most 96 characters")
	}
	parts := strings.Split(id, "/")
	if len(parts) > 2 {
		return bad("too many '/'")
	}
	for _, p := range parts {
		if !idPart.MatchString(p) || strings.HasSuffix(p, ".") || strings.HasSuffix(p, "-") {
			return bad("ids use letters, digits, '-', '_' and '.'")
		}
	}
	if strings.Contains(id, "--") || strings.Contains(id, "..") || strings.HasSuffix(id, ".git") {
		return bad("'--', '..' and a '.git' suffix are not allowed")
	}
	if strings.Contains(rev, "..") || strings.HasPrefix(rev, "/") || strings.Contains(rev, `\`) {
		return "", "", fmt.Errorf("hub: invalid revision %q: %w", rev, ErrBadID)
	}
	return id, rev, nil
}

func checkFilename(f string) error {
	if f == "" || strings.HasPrefix(f, "/") || strings.Contains(f, `\`) {
		return fmt.Errorf("hub: invalid file name %q: %w", f, ErrBadID)
	}
	for _, p := range strings.Split(f, "/") {
		if p == "" || p == "." || p == ".." {
			return fmt.Errorf("hub: invalid file name %q: %w", f, ErrBadID)
		}
	}
	return nil
}

// RepoFolderName is the cache folder of a model: "models--ORG--NAME".
func RepoFolderName(id string) string {
	return "models--" + strings.ReplaceAll(id, "/", "--")
}

func repoDir(cache, id string) string { return filepath.Join(cache, RepoFolderName(id)) }

var commitRe = regexp.MustCompile(`^[0-9a-f]{40}$`)

// cached looks for the files in the snapshot that revision points to. It
// returns the snapshot folder, the commit ("" when unknown) and the files
// missing from it.
func cached(repo, revision string, files []string) (snap, commit string, missing []string) {
	if b, err := os.ReadFile(filepath.Join(repo, "refs", filepath.FromSlash(revision))); err == nil {
		commit = strings.TrimSpace(string(b))
	} else if commitRe.MatchString(revision) {
		commit = revision
	}
	if !commitRe.MatchString(commit) {
		return "", "", files
	}
	snap = filepath.Join(repo, "snapshots", commit)
	for _, f := range files {
		if fi, err := os.Stat(filepath.Join(snap, filepath.FromSlash(f))); err != nil || !fi.Mode().IsRegular() {
			missing = append(missing, f)
		}
	}
	return snap, commit, missing
}

func offlineError(id string, o Options, repo, commit string, missing []string) error {
	where := repo
	switch {
	case commit != "":
		where = filepath.Join(repo, "snapshots", commit)
	default:
		ref := filepath.Join(repo, "refs", filepath.FromSlash(o.Revision))
		if _, err := os.Stat(repo); err != nil {
			where += " (does not exist)"
		} else if b, err := os.ReadFile(ref); err == nil {
			where = fmt.Sprintf("%s (holds %q, not a 40-hex-digit commit hash)", ref, clip(strings.TrimSpace(string(b))))
		} else {
			where = ref + " (no such ref)"
		}
		if snaps := snapshots(repo); len(snaps) > 0 {
			where += fmt.Sprintf("; the cache has snapshot %s: use %s@%s to load it", strings.Join(snaps, ", "), id, snaps[0])
		}
	}
	why := "offline mode (HF_HUB_OFFLINE)"
	todo := "unset HF_HUB_OFFLINE where the Hub can be reached (nnscope then downloads it into the cache)"
	if !OfflineEnv() {
		why = "offline mode (Options.Offline)"
		todo = "load it once without offline mode where the Hub can be reached (it is then downloaded into the cache)"
	}
	if other := sameNameInCache(o.CacheDir, id); len(other) > 0 {
		// "gpt2" is cached by Python as the id it was asked for; the Hub
		// redirects it to openai-community/gpt2, whose folder differs.
		where += fmt.Sprintf("; the cache has %s (did you mean that id?)", strings.Join(other, " and "))
	}
	snap := ""
	if commit != "" {
		snap = filepath.Join(repo, "snapshots", commit)
	}
	return &MissingError{Files: missing, Kind: ErrNotCached, Dir: snap,
		Msg: fmt.Sprintf("hub: model %q at revision %q is not in the cache and %s forbids downloading it: missing %s; looked in %s. To get it: %s, "+
			"or download it with `huggingface-cli download %s` (or `hf download %s`) into this cache, or pass the path of a local model folder",
			id, o.Revision, why, strings.Join(missing, ", "), where, todo, id, id)}
}

// sameNameInCache lists the cached models other than id whose name (the
// part after ORG/) is id's name.
func sameNameInCache(cache, id string) []string {
	name := id[strings.LastIndexByte(id, '/')+1:]
	ents, err := os.ReadDir(cache)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), "models--")
		if !ok || !e.IsDir() {
			continue
		}
		other := strings.ReplaceAll(rest, "--", "/")
		if other != id && other[strings.LastIndexByte(other, '/')+1:] == name {
			out = append(out, other)
		}
	}
	return out
}

// snapshots lists the commit folders under repo/snapshots.
func snapshots(repo string) []string {
	ents, err := os.ReadDir(filepath.Join(repo, "snapshots"))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && commitRe.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
