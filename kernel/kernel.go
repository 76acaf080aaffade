// Package kernel implements the Jupyter messaging protocol (version 5.3) over ZeroMQ, independently
// of what evaluates the code: the code runner is an Evaluator.
//
// A kernel binds the five sockets of a connection file (shell, control and stdin as ROUTER, iopub
// as PUB, heartbeat as REP), verifies the HMAC signature of every incoming message (messages with
// a bad or missing signature are dropped and logged, never answered), runs cells one at a time on
// a worker goroutine and streams their output to iopub while control requests (interrupt,
// shutdown) and the heartbeat are still served.
package kernel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-zeromq/zmq4"
)

// Bundle maps MIME types to data, e.g. "text/plain", "text/html", "image/png". Binary data may be
// given as []byte (it is base64-encoded on the wire) or as a base64 string.
//
// Keys starting with "$" are not MIME types but display options: KeyDisplayID, KeyUpdate and
// KeyMetadata. Use the WithDisplayID, AsUpdate and WithMetadata helpers to set them.
type Bundle map[string]any

// Reserved Bundle keys.
const (
	// KeyDisplayID (string) gives the output a display_id, so that a later update can replace it.
	KeyDisplayID = "$display_id"
	// KeyUpdate (bool) publishes the bundle as update_display_data of the output with the same
	// display_id (e.g. a progress bar updating in place) instead of a new display_data.
	KeyUpdate = "$update"
	// KeyMetadata (map[string]any) is the metadata of the output (e.g. {"image/png": {"width": 300}}).
	KeyMetadata = "$metadata"
)

// WithDisplayID returns a copy of b carrying display_id id.
func (b Bundle) WithDisplayID(id string) Bundle {
	c := b.clone()
	c[KeyDisplayID] = id
	return c
}

// AsUpdate returns a copy of b that replaces the earlier output with display_id id.
func (b Bundle) AsUpdate(id string) Bundle {
	c := b.clone()
	c[KeyDisplayID] = id
	c[KeyUpdate] = true
	return c
}

// WithMetadata returns a copy of b carrying output metadata md.
func (b Bundle) WithMetadata(md map[string]any) Bundle {
	c := b.clone()
	c[KeyMetadata] = md
	return c
}

func (b Bundle) clone() Bundle {
	c := make(Bundle, len(b)+1)
	for k, v := range b {
		c[k] = v
	}
	return c
}

// parts splits b into the data, metadata and transient maps of a display message.
func (b Bundle) parts() (data, metadata, transient map[string]any, update bool) {
	data = map[string]any{}
	metadata = map[string]any{}
	transient = map[string]any{}
	for k, v := range b {
		switch {
		case k == KeyMetadata:
			if md, ok := v.(map[string]any); ok {
				metadata = md
			}
		case k == KeyDisplayID:
			if id, ok := v.(string); ok && id != "" {
				transient["display_id"] = id
			}
		case k == KeyUpdate:
			update, _ = v.(bool)
		case strings.HasPrefix(k, "$"):
		default:
			if bs, ok := v.([]byte); ok && isTextMIME(k) {
				v = string(bs)
			}
			data[k] = v
		}
	}
	if transient["display_id"] == nil {
		update = false
	}
	return data, metadata, transient, update
}

func isTextMIME(mime string) bool {
	return strings.HasPrefix(mime, "text/") || strings.HasSuffix(mime, "json") ||
		strings.HasSuffix(mime, "+xml") || mime == "application/javascript"
}

// LanguageInfo describes the kernel's language in kernel_info_reply.
type LanguageInfo struct {
	Name              string `json:"name"`                         // "go"
	Version           string `json:"version"`                      // e.g. runtime.Version()
	Mimetype          string `json:"mimetype"`                     // "text/x-go"
	FileExtension     string `json:"file_extension"`               // ".go"
	PygmentsLexer     string `json:"pygments_lexer,omitempty"`     // "go"
	CodemirrorMode    string `json:"codemirror_mode,omitempty"`    // "go"
	NbconvertExporter string `json:"nbconvert_exporter,omitempty"` // "script"
}

// HelpLink is one entry of kernel_info_reply's help_links.
type HelpLink struct {
	Text string `json:"text"`
	URL  string `json:"url"`
}

// Evaluator runs the code of a kernel. Its methods are called from one goroutine at a time, in
// the order the shell requests arrived.
type Evaluator interface {
	// Execute runs one cell. Output written to out/errOut is streamed to iopub as it happens.
	// display publishes rich data (display_data, or update_display_data; see Bundle) during
	// execution. The returned result, if any, becomes execute_result. ctx is cancelled on
	// interrupt (interrupt_request or SIGINT) and on shutdown. A returned error becomes an error
	// reply; it may implement ErrorInfo.
	Execute(ctx context.Context, code string, out, errOut io.Writer, display func(Bundle)) (result *Bundle, err error)
	// Complete returns the completions at byte offset cursor of code, and the byte range
	// [start, end) of code they replace.
	Complete(code string, cursor int) (matches []string, start, end int)
	// Inspect returns documentation of what is at byte offset cursor; detail is 0 or 1.
	Inspect(code string, cursor int, detail int) (Bundle, bool)
	// IsComplete reports "complete", "incomplete" or "invalid" (or "unknown"), and for
	// "incomplete" the indent of the next line.
	IsComplete(code string) (status string, indent string)
	// Info describes the language: name "go", version, mimetype "text/x-go", file_extension ".go".
	Info() LanguageInfo
}

// ErrorInfo may be implemented by errors returned from Evaluator.Execute to give the ename and
// traceback of the error reply; evalue is the error's Error(). Other errors are reported with
// ename "Error" and their message as traceback.
type ErrorInfo interface {
	Name() string
	Traceback() []string
}

// Options configure a Kernel. The zero value is usable.
type Options struct {
	// Logger receives protocol problems (bad signatures, malformed messages). Nil means stderr.
	Logger *log.Logger
	// Banner is kernel_info_reply's banner.
	Banner string
	// HelpLinks are kernel_info_reply's help_links.
	HelpLinks []HelpLink
	// ImplementationVersion is kernel_info_reply's implementation_version.
	ImplementationVersion string
	// OnRestart is called when a shutdown_request with restart=true arrives, before Serve returns.
	// (jupyter_client restarts a kernel by letting the process exit and starting a new one, so
	// Serve returns in both cases.)
	OnRestart func()
	// StreamInterval bounds how long stream output is held back to coalesce small writes.
	// Zero means 50 ms.
	StreamInterval time.Duration
	// NoSignalHandler stops Serve from handling os.Interrupt (SIGINT) by interrupting the running
	// cell. By default SIGINT interrupts the cell instead of killing the process, which supports
	// kernelspecs with interrupt_mode "signal".
	NoSignalHandler bool
	// OnReady, if set, is called once all sockets are bound.
	OnReady func(ConnectionInfo)
}

// Kernel serves one Evaluator over the Jupyter protocol.
type Kernel struct {
	ev      Evaluator
	opts    Options
	log     *log.Logger
	session string

	signer  *Signer
	shell   *lockedSocket
	control *lockedSocket
	stdin   *lockedSocket
	iopub   *lockedSocket
	hb      zmq4.Socket

	ctx   context.Context
	queue chan *Message

	execCount int            // owned by the worker
	history   []historyEntry // inputs stored in the history, owned by the worker

	mu        sync.Mutex
	cancelRun context.CancelFunc // cancels the running cell, nil between cells
	inputWait chan string        // receives the next input_reply's value while a cell waits for one
	inputID   string             // the msg_id of the input_request inputWait waits on
	quit      chan struct{}
	quitOnce  sync.Once
}

type lockedSocket struct {
	mu   sync.Mutex
	s    zmq4.Socket
	name string
}

func (ls *lockedSocket) send(frames [][]byte) error {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.s.SendMulti(zmq4.NewMsgFrom(frames...))
}

// New returns a Kernel serving ev.
func New(ev Evaluator, opts Options) *Kernel {
	lg := opts.Logger
	if lg == nil {
		lg = log.New(os.Stderr, "nnscope kernel: ", log.LstdFlags)
	}
	if opts.StreamInterval <= 0 {
		opts.StreamInterval = 50 * time.Millisecond
	}
	return &Kernel{ev: ev, opts: opts, log: lg, session: newID(), quit: make(chan struct{})}
}

// Serve reads the connection file and serves ev until ctx is cancelled or a shutdown_request
// arrives. logger may be nil (stderr).
func Serve(ctx context.Context, connectionFile string, ev Evaluator, logger *log.Logger) error {
	return New(ev, Options{Logger: logger}).Serve(ctx, connectionFile)
}

// Serve reads the connection file and serves until ctx is cancelled or a shutdown_request
// arrives; it returns nil then.
func (k *Kernel) Serve(ctx context.Context, connectionFile string) error {
	ci, err := ReadConnectionFile(connectionFile)
	if err != nil {
		return err
	}
	return k.ServeConnection(ctx, ci)
}

// ServeConnection is Serve with the connection file already parsed.
func (k *Kernel) ServeConnection(ctx context.Context, ci ConnectionInfo) error {
	signer, err := NewSigner(ci.SignatureScheme, ci.Key)
	if err != nil {
		return err
	}
	k.signer = signer
	if ci.Key == "" {
		k.log.Printf("warning: empty key in the connection file, messages are not signed")
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	k.ctx = ctx
	k.queue = make(chan *Message, 256)

	zlog := log.New(io.Discard, "", 0)
	type sockSpec struct {
		name string
		port int
		make func(context.Context, ...zmq4.Option) zmq4.Socket
	}
	specs := []sockSpec{
		{"shell", ci.ShellPort, zmq4.NewRouter},
		{"control", ci.ControlPort, zmq4.NewRouter},
		{"stdin", ci.StdinPort, zmq4.NewRouter},
		{"iopub", ci.IOPubPort, zmq4.NewPub},
		{"hb", ci.HBPort, zmq4.NewRep},
	}
	var socks []zmq4.Socket
	defer func() {
		for _, s := range socks {
			_ = s.Close()
		}
	}()
	for _, sp := range specs {
		ep, err := ci.endpoint(sp.port)
		if err != nil {
			return fmt.Errorf("kernel: %s socket: %w", sp.name, err)
		}
		s := sp.make(ctx, zmq4.WithLogger(zlog))
		if err := s.Listen(ep); err != nil {
			_ = s.Close()
			return fmt.Errorf("kernel: bind %s socket to %s: %w", sp.name, ep, err)
		}
		socks = append(socks, s)
	}
	k.shell = &lockedSocket{s: socks[0], name: "shell"}
	k.control = &lockedSocket{s: socks[1], name: "control"}
	k.stdin = &lockedSocket{s: socks[2], name: "stdin"}
	k.iopub = &lockedSocket{s: socks[3], name: "iopub"}
	k.hb = socks[4]

	if !k.opts.NoSignalHandler {
		sigc := make(chan os.Signal, 1)
		signal.Notify(sigc, os.Interrupt)
		defer signal.Stop(sigc)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-sigc:
					if !k.interrupt() {
						k.log.Printf("SIGINT received while no cell is running")
					}
				}
			}
		}()
	}

	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); k.heartbeat(ctx) }()
	go func() { defer wg.Done(); k.recvLoop(ctx, k.shell, func(m *Message) { k.queue <- m }) }()
	go func() { defer wg.Done(); k.recvLoop(ctx, k.control, k.handleControl) }()
	go func() {
		defer wg.Done()
		k.recvLoop(ctx, k.stdin, k.handleStdin)
	}()
	go k.worker(ctx)

	if k.opts.OnReady != nil {
		k.opts.OnReady(ci)
	}

	select {
	case <-ctx.Done():
	case <-k.quit:
		// Give the PUB socket's send queue a moment to drain the last status messages.
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	for _, s := range socks {
		_ = s.Close()
	}
	socks = nil
	waitTimeout(&wg, 2*time.Second)
	return nil
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

func (k *Kernel) heartbeat(ctx context.Context) {
	for {
		msg, err := k.hb.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if len(msg.Frames) > 1 {
			err = k.hb.SendMulti(msg)
		} else {
			err = k.hb.Send(msg)
		}
		if err != nil && ctx.Err() == nil {
			k.log.Printf("heartbeat: %v", err)
		}
	}
}

// recvLoop receives, verifies and decodes messages from ls and hands them to handle.
func (k *Kernel) recvLoop(ctx context.Context, ls *lockedSocket, handle func(*Message)) {
	for {
		zm, err := ls.s.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			k.log.Printf("%s: receive: %v", ls.name, err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		m, err := Decode(zm.Frames, k.signer)
		if err != nil {
			if errors.Is(err, ErrBadSignature) {
				k.log.Printf("%s: dropping message with an invalid signature", ls.name)
			} else {
				k.log.Printf("%s: dropping malformed message: %v", ls.name, err)
			}
			continue
		}
		handle(m)
	}
}

// send signs and sends a message on ls.
func (k *Kernel) send(ls *lockedSocket, m *Message) {
	if err := ls.send(Encode(m, k.signer)); err != nil && k.ctx.Err() == nil {
		k.log.Printf("%s: send %s: %v", ls.name, m.Header.MsgType, err)
	}
}

// reply answers req on ls with a message of type msgType.
func (k *Kernel) reply(ls *lockedSocket, req *Message, msgType string, content any) {
	m, err := newMessage(k.session, msgType, req, content, nil)
	if err != nil {
		k.log.Print(err)
		return
	}
	m.Identities = req.Identities
	k.send(ls, m)
}

// publish sends a message on iopub with parent as parent_header.
func (k *Kernel) publish(parent *Message, msgType string, content any) {
	m, err := newMessage(k.session, msgType, parent, content, nil)
	if err != nil {
		k.log.Print(err)
		return
	}
	m.Identities = [][]byte{[]byte("kernel." + k.session + "." + msgType)}
	k.send(k.iopub, m)
}

func (k *Kernel) status(parent *Message, state string) {
	k.publish(parent, "status", map[string]any{"execution_state": state})
}

func (k *Kernel) worker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-k.queue:
			k.handleShell(m)
		}
	}
}

func replyType(msgType string) string {
	return strings.TrimSuffix(msgType, "_request") + "_reply"
}

// handleShell handles one shell request on the worker goroutine.
func (k *Kernel) handleShell(m *Message) {
	k.status(m, "busy")
	defer k.status(m, "idle")
	switch m.Header.MsgType {
	case "execute_request":
		k.execute(m)
	case "kernel_info_request":
		k.reply(k.shell, m, "kernel_info_reply", k.kernelInfo())
	case "complete_request":
		k.complete(m)
	case "inspect_request":
		k.inspect(m)
	case "is_complete_request":
		k.isComplete(m)
	case "history_request":
		k.historyReply(m)
	case "comm_info_request":
		k.reply(k.shell, m, "comm_info_reply", map[string]any{"status": "ok", "comms": map[string]any{}})
	case "shutdown_request":
		k.shutdown(k.shell, m)
	case "interrupt_request":
		k.interrupt()
		k.reply(k.shell, m, "interrupt_reply", map[string]any{"status": "ok"})
	case "comm_open":
		// No comm targets: as the messaging spec asks (and ipykernel does) for an
		// unknown target, the comm is closed at once, so that the frontend does not
		// wait on a comm that will never answer.
		var req struct {
			CommID string `json:"comm_id"`
		}
		_ = json.Unmarshal(m.Content, &req)
		k.publish(m, "comm_close", map[string]any{"comm_id": req.CommID, "data": map[string]any{}})
	case "comm_msg", "comm_close":
		// Messages to comms that do not exist are ignored, as ipykernel does.
	default:
		k.unknown(k.shell, m)
	}
}

// handleControl handles one control request on the control goroutine, concurrently with a
// running cell.
func (k *Kernel) handleControl(m *Message) {
	k.status(m, "busy")
	defer k.status(m, "idle")
	switch m.Header.MsgType {
	case "interrupt_request":
		k.interrupt()
		k.reply(k.control, m, "interrupt_reply", map[string]any{"status": "ok"})
	case "shutdown_request":
		k.shutdown(k.control, m)
	case "kernel_info_request":
		k.reply(k.control, m, "kernel_info_reply", k.kernelInfo())
	default:
		k.unknown(k.control, m)
	}
}

func (k *Kernel) unknown(ls *lockedSocket, m *Message) {
	k.log.Printf("%s: unsupported message type %q", ls.name, m.Header.MsgType)
	if strings.HasSuffix(m.Header.MsgType, "_request") {
		k.reply(ls, m, replyType(m.Header.MsgType), map[string]any{
			"status": "error", "ename": "NotImplemented",
			"evalue": m.Header.MsgType + " is not supported", "traceback": []string{},
		})
	}
}

func (k *Kernel) kernelInfo() map[string]any {
	li := k.ev.Info()
	links := k.opts.HelpLinks
	if links == nil {
		links = []HelpLink{}
	}
	banner := k.opts.Banner
	if banner == "" {
		banner = "nnscope: Go (yaegi) for GPT-2 interpretability"
	}
	iv := k.opts.ImplementationVersion
	if iv == "" {
		iv = "0.1"
	}
	return map[string]any{
		"status":                 "ok",
		"protocol_version":       ProtocolVersion,
		"implementation":         "nnscope",
		"implementation_version": iv,
		"language_info":          li,
		"banner":                 banner,
		"help_links":             links,
		"debugger":               false,
	}
}

// interrupt cancels the running cell; it reports whether one was running.
func (k *Kernel) interrupt() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cancelRun == nil {
		return false
	}
	k.cancelRun()
	return true
}

func (k *Kernel) shutdown(ls *lockedSocket, m *Message) {
	var req struct {
		Restart bool `json:"restart"`
	}
	_ = json.Unmarshal(m.Content, &req)
	content := map[string]any{"status": "ok", "restart": req.Restart}
	k.reply(ls, m, "shutdown_reply", content)
	k.publish(m, "shutdown_reply", content)
	k.interrupt()
	if req.Restart && k.opts.OnRestart != nil {
		k.opts.OnRestart()
	}
	k.quitOnce.Do(func() { close(k.quit) })
}

// ---- execution ----

type executeRequest struct {
	Code            string            `json:"code"`
	Silent          bool              `json:"silent"`
	StoreHistory    *bool             `json:"store_history"`
	UserExpressions map[string]string `json:"user_expressions"`
	AllowStdin      bool              `json:"allow_stdin"`
	StopOnError     *bool             `json:"stop_on_error"`
}

func (k *Kernel) execute(m *Message) {
	var req executeRequest
	if err := json.Unmarshal(m.Content, &req); err != nil {
		k.log.Printf("execute_request: bad content: %v", err)
	}
	silent := req.Silent
	storeHistory := !silent && (req.StoreHistory == nil || *req.StoreHistory)
	stopOnError := req.StopOnError == nil || *req.StopOnError
	if storeHistory {
		k.execCount++
		k.history = append(k.history, historyEntry{k.execCount, req.Code})
	}
	count := k.execCount
	if !silent {
		k.publish(m, "execute_input", map[string]any{"code": req.Code, "execution_count": count})
	}

	stream := func(name string) *streamWriter {
		return newStreamWriter(k.opts.StreamInterval, func(text string) {
			if !silent {
				k.publish(m, "stream", map[string]any{"name": name, "text": text})
			}
		})
	}
	stdout, stderr := stream("stdout"), stream("stderr")
	flush := func() { stdout.Flush(); stderr.Flush() }
	display := func(b Bundle) {
		if silent || b == nil {
			return
		}
		flush()
		data, md, transient, update := b.parts()
		typ := "display_data"
		if update {
			typ = "update_display_data"
		}
		k.publish(m, typ, map[string]any{"data": data, "metadata": md, "transient": transient})
	}

	runCtx, cancel := context.WithCancel(k.ctx)
	runCtx = WithInput(runCtx, func(ctx context.Context, prompt string, password bool) (string, error) {
		if !req.AllowStdin {
			return "", ErrNoStdin
		}
		flush() // what the cell printed so far (the question) goes out before the input box
		return k.requestInput(ctx, m, prompt, password)
	})
	interrupted := false
	k.mu.Lock()
	k.cancelRun = func() { interrupted = true; cancel() }
	k.mu.Unlock()
	result, err := k.safeExecute(runCtx, req.Code, stdout, stderr, display)
	k.mu.Lock()
	k.cancelRun = nil
	wasInterrupted := interrupted
	k.mu.Unlock()
	cancel()
	flush()

	if err != nil {
		ename, evalue, tb := describeError(err, wasInterrupted)
		if !silent {
			k.publish(m, "error", map[string]any{"ename": ename, "evalue": evalue, "traceback": tb})
		}
		k.reply(k.shell, m, "execute_reply", map[string]any{
			"status": "error", "execution_count": count,
			"ename": ename, "evalue": evalue, "traceback": tb,
		})
		if stopOnError {
			k.abortQueued()
		}
		return
	}
	if result != nil && !silent {
		data, md, _, _ := result.parts()
		if len(data) > 0 {
			k.publish(m, "execute_result", map[string]any{"execution_count": count, "data": data, "metadata": md})
		}
	}
	ue := map[string]any{}
	for name := range req.UserExpressions {
		ue[name] = map[string]any{"status": "error", "ename": "NotImplemented",
			"evalue": "user_expressions are not supported", "traceback": []string{}}
	}
	k.reply(k.shell, m, "execute_reply", map[string]any{
		"status": "ok", "execution_count": count, "user_expressions": ue, "payload": []any{},
	})
}

// historyEntry is one input of this kernel's history.
type historyEntry struct {
	line  int // its execution count
	input string
}

// historySession is the session number history replies give this kernel's inputs: there is
// one session (a restart starts a new process with an empty history).
const historySession = 1

// historyReply answers a history_request from this session's inputs (those executed with
// store_history): hist_access_type "tail" (the last n), "range" (lines start to stop of the
// current session, 0 or a negative number) or "search" (a glob pattern; unique drops
// repeated inputs). Items are [session, line, input], or [session, line, [input, null]]
// when output is asked for (outputs are not kept).
func (k *Kernel) historyReply(m *Message) {
	var req struct {
		Output         bool   `json:"output"`
		HistAccessType string `json:"hist_access_type"`
		Session        int    `json:"session"`
		Start          int    `json:"start"`
		Stop           *int   `json:"stop"`
		N              *int   `json:"n"`
		Pattern        string `json:"pattern"`
		Unique         bool   `json:"unique"`
	}
	_ = json.Unmarshal(m.Content, &req)
	var sel []historyEntry
	switch req.HistAccessType {
	case "tail":
		sel = k.history
		if req.N != nil && *req.N >= 0 && *req.N < len(sel) {
			sel = sel[len(sel)-*req.N:]
		}
	case "range":
		if req.Session > 0 && req.Session != historySession {
			break
		}
		for _, h := range k.history {
			if h.line >= req.Start && (req.Stop == nil || h.line < *req.Stop) {
				sel = append(sel, h)
			}
		}
	case "search":
		re := globRegexp(req.Pattern)
		seen := map[string]bool{}
		for i := len(k.history) - 1; i >= 0; i-- {
			h := k.history[i]
			if !re.MatchString(h.input) || (req.Unique && seen[h.input]) {
				continue
			}
			seen[h.input] = true
			sel = append(sel, h) // newest first here, reversed below
			if req.N != nil && *req.N > 0 && len(sel) == *req.N {
				break
			}
		}
		slices.Reverse(sel)
	}
	items := []any{}
	for _, h := range sel {
		if req.Output {
			items = append(items, []any{historySession, h.line, []any{h.input, nil}})
		} else {
			items = append(items, []any{historySession, h.line, h.input})
		}
	}
	k.reply(k.shell, m, "history_reply", map[string]any{"status": "ok", "history": items})
}

// globRegexp compiles a history search pattern as SQLite's GLOB reads it (IPython's history
// search): * any text, ? one character, newlines included; "" matches everything.
func globRegexp(pattern string) *regexp.Regexp {
	if pattern == "" {
		pattern = "*"
	}
	var b strings.Builder
	b.WriteString("(?s)^")
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// abortQueued answers the execute requests already queued with status "aborted", as ipykernel
// does after an error when stop_on_error is set (e.g. "Run All" stops at the failing cell).
// Only the requests queued when the error happened are affected.
func (k *Kernel) abortQueued() {
	for n := len(k.queue); n > 0; n-- {
		m := <-k.queue
		if m.Header.MsgType != "execute_request" {
			k.handleShell(m)
			continue
		}
		k.status(m, "busy")
		k.reply(k.shell, m, "execute_reply", map[string]any{"status": "aborted", "execution_count": k.execCount})
		k.status(m, "idle")
	}
}

// PanicError is the error Execute's panics are turned into.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Name implements ErrorInfo.
func (e *PanicError) Name() string { return "panic" }

// Traceback implements ErrorInfo.
func (e *PanicError) Traceback() []string {
	return append([]string{e.Error(), ""}, strings.Split(strings.TrimRight(string(e.Stack), "\n"), "\n")...)
}

func (k *Kernel) safeExecute(ctx context.Context, code string, out, errOut io.Writer, display func(Bundle)) (res *Bundle, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return k.ev.Execute(ctx, code, out, errOut, display)
}

func describeError(err error, interrupted bool) (ename, evalue string, traceback []string) {
	evalue = err.Error()
	var ei ErrorInfo
	if errors.As(err, &ei) {
		ename, traceback = ei.Name(), ei.Traceback()
	}
	if ename == "" {
		ename = "Error"
		if interrupted {
			ename = "Interrupted"
			if errors.Is(err, context.Canceled) {
				evalue = "execution interrupted"
			}
		}
	}
	if traceback == nil {
		traceback = []string{ename + ": " + evalue}
	}
	return ename, evalue, traceback
}

// ---- introspection ----

// byteOffset converts a cursor position in Unicode code points (protocol 5.2+) to a byte offset.
func byteOffset(s string, runes int) int {
	if runes <= 0 {
		return 0
	}
	n := 0
	for i := range s {
		if n == runes {
			return i
		}
		n++
	}
	return len(s)
}

// runeOffset converts a byte offset in s to a count of code points.
func runeOffset(s string, b int) int {
	if b <= 0 {
		return 0
	}
	if b > len(s) {
		b = len(s)
	}
	return utf8.RuneCountInString(s[:b])
}

func (k *Kernel) complete(m *Message) {
	var req struct {
		Code      string `json:"code"`
		CursorPos *int   `json:"cursor_pos"`
	}
	_ = json.Unmarshal(m.Content, &req)
	cursor := len(req.Code)
	if req.CursorPos != nil {
		cursor = byteOffset(req.Code, *req.CursorPos)
	}
	matches, start, end := k.ev.Complete(req.Code, cursor)
	if matches == nil {
		matches = []string{}
		start, end = cursor, cursor
	}
	k.reply(k.shell, m, "complete_reply", map[string]any{
		"status": "ok", "matches": matches,
		"cursor_start": runeOffset(req.Code, start), "cursor_end": runeOffset(req.Code, end),
		"metadata": map[string]any{},
	})
}

func (k *Kernel) inspect(m *Message) {
	var req struct {
		Code        string `json:"code"`
		CursorPos   *int   `json:"cursor_pos"`
		DetailLevel int    `json:"detail_level"`
	}
	_ = json.Unmarshal(m.Content, &req)
	cursor := len(req.Code)
	if req.CursorPos != nil {
		cursor = byteOffset(req.Code, *req.CursorPos)
	}
	b, found := k.ev.Inspect(req.Code, cursor, req.DetailLevel)
	data, md := map[string]any{}, map[string]any{}
	if found {
		data, md, _, _ = b.parts()
	}
	k.reply(k.shell, m, "inspect_reply", map[string]any{
		"status": "ok", "found": found, "data": data, "metadata": md,
	})
}

func (k *Kernel) isComplete(m *Message) {
	var req struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(m.Content, &req)
	status, indent := k.ev.IsComplete(req.Code)
	if status == "" {
		status = "unknown"
	}
	content := map[string]any{"status": status}
	if status == "incomplete" {
		content["indent"] = indent
	}
	k.reply(k.shell, m, "is_complete_reply", content)
}
