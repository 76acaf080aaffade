package kernel

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"
)

// ProtocolVersion is the Jupyter messaging protocol version this package speaks.
const ProtocolVersion = "5.3"

// delimiter separates the routing identities from the message proper.
var delimiter = []byte("<IDS|MSG>")

// Header is the header (and parent_header) of a Jupyter message.
type Header struct {
	MsgID    string `json:"msg_id"`
	Session  string `json:"session"`
	Username string `json:"username"`
	Date     string `json:"date"`
	MsgType  string `json:"msg_type"`
	Version  string `json:"version"`
}

// Message is one Jupyter message as carried on the wire.
//
// Incoming messages keep the raw JSON of their four signed parts, so that a reply can quote the
// request's header verbatim as its parent_header (unknown fields included).
type Message struct {
	Identities [][]byte
	Header     Header
	// RawHeader, ParentHeader, Metadata and Content hold the JSON of the four signed frames.
	RawHeader    json.RawMessage
	ParentHeader json.RawMessage
	Metadata     json.RawMessage
	Content      json.RawMessage
	Buffers      [][]byte
}

// Signer signs and verifies messages with the connection file's key and scheme.
// A Signer with an empty key neither signs nor checks signatures.
type Signer struct {
	key    []byte
	newFun func() hash.Hash
}

// NewSigner returns a Signer for the given scheme ("hmac-sha256", also "hmac-sha1" and
// "hmac-sha512"; an empty scheme means hmac-sha256) and key.
func NewSigner(scheme, key string) (*Signer, error) {
	s := &Signer{key: []byte(key)}
	switch strings.ToLower(scheme) {
	case "", "hmac-sha256":
		s.newFun = sha256.New
	case "hmac-sha1":
		s.newFun = sha1.New
	case "hmac-sha512":
		s.newFun = sha512.New
	default:
		return nil, fmt.Errorf("kernel: unsupported signature_scheme %q", scheme)
	}
	return s, nil
}

// Sign returns the hex digest of the four message parts, or "" when the key is empty.
func (s *Signer) Sign(header, parent, metadata, content []byte) string {
	if s == nil || len(s.key) == 0 {
		return ""
	}
	m := hmac.New(s.newFun, s.key)
	m.Write(header)
	m.Write(parent)
	m.Write(metadata)
	m.Write(content)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is the right signature of the four parts. With an empty key any
// signature is accepted.
func (s *Signer) Verify(sig, header, parent, metadata, content []byte) bool {
	if s == nil || len(s.key) == 0 {
		return true
	}
	got, err := hex.DecodeString(strings.ToLower(string(sig)))
	if err != nil || len(got) == 0 {
		return false
	}
	m := hmac.New(s.newFun, s.key)
	m.Write(header)
	m.Write(parent)
	m.Write(metadata)
	m.Write(content)
	return hmac.Equal(got, m.Sum(nil))
}

// ErrBadSignature is returned by Decode for a message whose signature does not verify.
var ErrBadSignature = errors.New("kernel: invalid message signature")

// Decode parses the frames of one multipart message (identities first) and verifies its
// signature. It returns ErrBadSignature (wrapped) when the signature is missing or wrong.
func Decode(frames [][]byte, s *Signer) (*Message, error) {
	i := 0
	for ; i < len(frames); i++ {
		if bytes.Equal(frames[i], delimiter) {
			break
		}
	}
	if i == len(frames) {
		return nil, errors.New("kernel: message without <IDS|MSG> delimiter")
	}
	rest := frames[i+1:]
	if len(rest) < 5 {
		return nil, fmt.Errorf("kernel: message with %d frames after the delimiter, want at least 5", len(rest))
	}
	if !s.Verify(rest[0], rest[1], rest[2], rest[3], rest[4]) {
		return nil, ErrBadSignature
	}
	m := &Message{
		Identities:   cloneFrames(frames[:i]),
		RawHeader:    json.RawMessage(bytes.Clone(rest[1])),
		ParentHeader: json.RawMessage(bytes.Clone(rest[2])),
		Metadata:     json.RawMessage(bytes.Clone(rest[3])),
		Content:      json.RawMessage(bytes.Clone(rest[4])),
		Buffers:      cloneFrames(rest[5:]),
	}
	if err := json.Unmarshal(m.RawHeader, &m.Header); err != nil {
		return nil, fmt.Errorf("kernel: bad header: %w", err)
	}
	if m.Header.MsgType == "" {
		return nil, errors.New("kernel: header without msg_type")
	}
	return m, nil
}

func cloneFrames(fs [][]byte) [][]byte {
	out := make([][]byte, len(fs))
	for i, f := range fs {
		out[i] = bytes.Clone(f)
	}
	return out
}

// Encode returns the frames of m (identities, delimiter, signature, the four parts, buffers).
// Empty JSON parts are sent as "{}".
func Encode(m *Message, s *Signer) [][]byte {
	parts := [4][]byte{m.RawHeader, m.ParentHeader, m.Metadata, m.Content}
	for i, p := range parts {
		if len(p) == 0 {
			parts[i] = []byte("{}")
		}
	}
	frames := make([][]byte, 0, len(m.Identities)+6+len(m.Buffers))
	frames = append(frames, m.Identities...)
	frames = append(frames, delimiter, []byte(s.Sign(parts[0], parts[1], parts[2], parts[3])))
	frames = append(frames, parts[:]...)
	frames = append(frames, m.Buffers...)
	return frames
}

// newID returns a random UUID-4 string.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// timestamp formats t as the ISO 8601 date Jupyter headers carry.
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
}

// newMessage builds an outgoing message of type msgType, with parent as parent_header (may be
// nil) and content marshalled to JSON.
func newMessage(session, msgType string, parent *Message, content any, metadata any) (*Message, error) {
	h := Header{
		MsgID:    newID(),
		Session:  session,
		Username: "kernel",
		Date:     timestamp(time.Now()),
		MsgType:  msgType,
		Version:  ProtocolVersion,
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	cb, err := json.Marshal(content)
	if err != nil {
		return nil, fmt.Errorf("kernel: marshal %s content: %w", msgType, err)
	}
	var mb []byte
	if metadata != nil {
		if mb, err = json.Marshal(metadata); err != nil {
			return nil, fmt.Errorf("kernel: marshal %s metadata: %w", msgType, err)
		}
	}
	m := &Message{Header: h, RawHeader: hb, Metadata: mb, Content: cb}
	if parent != nil {
		m.ParentHeader = parent.RawHeader
	}
	return m, nil
}
