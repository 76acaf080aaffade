package hub

import (
	"errors"
	"fmt"
)

// Error classes, for errors.Is.
var (
	ErrNotCached    = errors.New("not in the cache")                   // offline and the files are not cached
	ErrNotFound     = errors.New("not found")                          // repository, revision or file does not exist (404)
	ErrUnauthorized = errors.New("unauthorized")                       // 401/403: private or gated model, or a bad token
	ErrNotHub       = errors.New("endpoint is not a Hugging Face Hub") // response lacks the Hub's headers
	ErrIntegrity    = errors.New("download corrupted")                 // size or checksum mismatch
	ErrBadID        = errors.New("invalid model id or path")
)

// HTTPError is an unexpected HTTP answer from the Hub.
type HTTPError struct {
	ID, Revision, File string
	URL                string
	Status             int    // HTTP status code
	Code               string // the Hub's X-Error-Code header (RepoNotFound, GatedRepo, EntryNotFound, RevisionNotFound), if any
	ServerMsg          string // the Hub's X-Error-Message header, if any
	Kind               error  // ErrNotFound, ErrUnauthorized or nil
	Msg                string
}

func (e *HTTPError) Error() string {
	s := "hub: " + e.Msg
	if e.ServerMsg != "" {
		s += fmt.Sprintf(" (server said: %s)", e.ServerMsg)
	}
	return s
}

func (e *HTTPError) Unwrap() error { return e.Kind }

// MissingError says which files a local model folder, or the cache in
// offline mode, lacks. It unwraps to ErrNotFound (folder) or ErrNotCached.
type MissingError struct {
	Files []string // the missing files, as named in Options.Files
	Kind  error
	Msg   string
	Dir   string // the folder that lacks them (a local folder, or the cached snapshot); "" when there is none
}

func (e *MissingError) Error() string { return e.Msg }
func (e *MissingError) Unwrap() error { return e.Kind }

// NetworkError is a failure to reach the Hub (DNS, connection, timeout)
// for a model that is not in the cache.
type NetworkError struct {
	ID, File, Endpoint string
	Err                error
	Msg                string
}

func (e *NetworkError) Error() string { return e.Msg }
func (e *NetworkError) Unwrap() error { return e.Err }
