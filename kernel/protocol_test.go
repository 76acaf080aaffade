package kernel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// testClient is a minimal Jupyter client built on zmq4.
type testClient struct {
	t       *testing.T
	signer  *Signer
	session string
	shell   zmq4.Socket
	control zmq4.Socket
	iopub   zmq4.Socket
	shellC  chan *Message
	ctrlC   chan *Message
	iopubC  chan *Message
	ports   ConnectionInfo
}

func (c *testClient) pump(s zmq4.Socket, ch chan *Message) {
	for {
		zm, err := s.Recv()
		if err != nil {
			close(ch)
			return
		}
		m, err := Decode(zm.Frames, c.signer)
		if err != nil {
			c.t.Errorf("client got an undecodable message: %v", err)
			continue
		}
		ch <- m
	}
}

func (c *testClient) send(s zmq4.Socket, signer *Signer, msgType string, content any) *Message {
	c.t.Helper()
	m, err := newMessage(c.session, msgType, nil, content, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	m.Header.Username = "test"
	if err := s.SendMulti(zmq4.NewMsgFrom(Encode(m, signer)...)); err != nil {
		c.t.Fatal(err)
	}
	return m
}

func recvTimeout(t *testing.T, ch chan *Message, d time.Duration, what string) *Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatalf("%s: channel closed", what)
		}
		return m
	case <-time.After(d):
		t.Fatalf("%s: nothing within %v", what, d)
	}
	return nil
}

func parentID(m *Message) string {
	var h Header
	_ = json.Unmarshal(m.ParentHeader, &h)
	return h.MsgID
}

func content(t *testing.T, m *Message) map[string]any {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal(m.Content, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// iopubUntilIdle collects the iopub messages whose parent is req, up to its idle status.
func iopubUntilIdle(t *testing.T, c *testClient, req *Message) []*Message {
	t.Helper()
	var out []*Message
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-c.iopubC:
			if parentID(m) != req.Header.MsgID {
				continue
			}
			out = append(out, m)
			if m.Header.MsgType == "status" && content(t, m)["execution_state"] == "idle" {
				return out
			}
		case <-deadline:
			t.Fatalf("no idle for %s; got %d messages", req.Header.MsgType, len(out))
		}
	}
}

func types(ms []*Message) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Header.MsgType)
	}
	return strings.Join(s, ",")
}

func startTestKernel(t *testing.T, key string, opts ...func(*Options)) (*testClient, *syncBuffer, chan error) {
	t.Helper()
	ports := freePorts(t, 5)
	ci := ConnectionInfo{
		IP: "127.0.0.1", Transport: "tcp", ShellPort: ports[0], ControlPort: ports[1],
		StdinPort: ports[2], IOPubPort: ports[3], HBPort: ports[4], Key: key, SignatureScheme: "hmac-sha256",
	}
	logs := &syncBuffer{}
	o := Options{Logger: log.New(logs, "", 0), NoSignalHandler: true}
	for _, f := range opts {
		f(&o)
	}
	k := New(newFakeEvaluator(), o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	k.opts.OnReady = func(ConnectionInfo) { close(ready) }
	go func() { done <- k.ServeConnection(ctx, ci) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("ServeConnection: %v", err)
	}

	signer, _ := NewSigner("hmac-sha256", key)
	c := &testClient{t: t, signer: signer, session: newID(),
		shellC: make(chan *Message, 100), ctrlC: make(chan *Message, 100), iopubC: make(chan *Message, 1000), ports: ci}
	cctx, ccancel := context.WithCancel(context.Background())
	c.shell = zmq4.NewDealer(cctx, zmq4.WithID(zmq4.SocketIdentity("shell-"+c.session)))
	c.control = zmq4.NewDealer(cctx, zmq4.WithID(zmq4.SocketIdentity("control-"+c.session)))
	c.iopub = zmq4.NewSub(cctx)
	for _, d := range []struct {
		s    zmq4.Socket
		port int
	}{{c.shell, ci.ShellPort}, {c.control, ci.ControlPort}, {c.iopub, ci.IOPubPort}} {
		if err := d.s.Dial(fmt.Sprintf("tcp://127.0.0.1:%d", d.port)); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.iopub.SetOption(zmq4.OptionSubscribe, "")
	go c.pump(c.shell, c.shellC)
	go c.pump(c.control, c.ctrlC)
	go c.pump(c.iopub, c.iopubC)
	t.Cleanup(func() {
		cancel()
		ccancel()
		c.shell.Close()
		c.control.Close()
		c.iopub.Close()
	})
	return c, logs, done
}

// waitIOPub sends kernel_info requests until iopub delivers (the PUB/SUB slow-joiner problem).
func waitIOPub(t *testing.T, c *testClient) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		req := c.send(c.shell, c.signer, "kernel_info_request", map[string]any{})
		recvTimeout(t, c.shellC, 2*time.Second, "kernel_info_reply")
		timeout := time.After(100 * time.Millisecond)
	drain:
		for {
			select {
			case m := <-c.iopubC:
				if parentID(m) == req.Header.MsgID {
					// Drain the rest of this request's messages.
					time.Sleep(20 * time.Millisecond)
					for len(c.iopubC) > 0 {
						<-c.iopubC
					}
					return
				}
			case <-timeout:
				break drain
			}
		}
	}
	t.Fatal("iopub never delivered")
}

func TestProtocolInProcess(t *testing.T) {
	c, logs, done := startTestKernel(t, "s3cret")
	waitIOPub(t, c)

	// A message signed with the wrong key is dropped and logged, never answered.
	wrong, _ := NewSigner("hmac-sha256", "not-the-key")
	c.send(c.shell, wrong, "kernel_info_request", map[string]any{})
	c.send(c.control, wrong, "shutdown_request", map[string]any{"restart": false})
	select {
	case m := <-c.shellC:
		t.Fatalf("reply to a badly signed request: %s", m.Header.MsgType)
	case m := <-c.ctrlC:
		t.Fatalf("reply to a badly signed request: %s", m.Header.MsgType)
	case <-time.After(300 * time.Millisecond):
	}
	if n := strings.Count(logs.String(), "invalid signature"); n != 2 {
		t.Fatalf("want 2 logged bad signatures, log:\n%s", logs.String())
	}

	// kernel_info.
	req := c.send(c.shell, c.signer, "kernel_info_request", map[string]any{})
	rep := recvTimeout(t, c.shellC, 2*time.Second, "kernel_info_reply")
	ki := content(t, rep)
	if rep.Header.MsgType != "kernel_info_reply" || parentID(rep) != req.Header.MsgID ||
		ki["protocol_version"] != "5.3" || ki["implementation"] != "nnscope" ||
		ki["language_info"].(map[string]any)["name"] != "go" {
		t.Fatalf("kernel_info_reply %s", rep.Content)
	}
	if got := types(iopubUntilIdle(t, c, req)); got != "status,status" {
		t.Fatalf("kernel_info iopub: %s", got)
	}

	// Execute with output and a result.
	req = c.send(c.shell, c.signer, "execute_request", map[string]any{"code": "print hi\neprint oops\nx = 40\nx+2", "silent": false})
	rep = recvTimeout(t, c.shellC, 2*time.Second, "execute_reply")
	if rc := content(t, rep); rc["status"] != "ok" || rc["execution_count"] != 1.0 {
		t.Fatalf("execute_reply %s", rep.Content)
	}
	msgs := iopubUntilIdle(t, c, req)
	if got := types(msgs); got != "status,execute_input,stream,stream,execute_result,status" {
		t.Fatalf("execute iopub: %s", got)
	}
	if s := content(t, msgs[2]); s["name"] != "stdout" || s["text"] != "hi\n" {
		t.Fatalf("stdout stream %s", msgs[2].Content)
	}
	if s := content(t, msgs[3]); s["name"] != "stderr" || s["text"] != "oops\n" {
		t.Fatalf("stderr stream %s", msgs[3].Content)
	}
	if r := content(t, msgs[4]); r["data"].(map[string]any)["text/plain"] != "42" || r["execution_count"] != 1.0 {
		t.Fatalf("execute_result %s", msgs[4].Content)
	}

	// An error, then the session still works.
	req = c.send(c.shell, c.signer, "execute_request", map[string]any{"code": "boom"})
	rep = recvTimeout(t, c.shellC, 2*time.Second, "execute_reply")
	if rc := content(t, rep); rc["status"] != "error" || rc["ename"] != "BoomError" || rc["execution_count"] != 2.0 {
		t.Fatalf("error reply %s", rep.Content)
	}
	if got := types(iopubUntilIdle(t, c, req)); got != "status,execute_input,error,status" {
		t.Fatalf("error iopub: %s", got)
	}
	req = c.send(c.shell, c.signer, "execute_request", map[string]any{"code": "panic"})
	rep = recvTimeout(t, c.shellC, 2*time.Second, "execute_reply")
	if rc := content(t, rep); rc["status"] != "error" || rc["ename"] != "panic" {
		t.Fatalf("panic reply %s", rep.Content)
	}
	iopubUntilIdle(t, c, req)

	// Interrupt a long cell over control; control and heartbeat are served meanwhile.
	req = c.send(c.shell, c.signer, "execute_request", map[string]any{"code": "sleep"})
	time.Sleep(100 * time.Millisecond)
	kreq := c.send(c.control, c.signer, "kernel_info_request", map[string]any{})
	if m := recvTimeout(t, c.ctrlC, time.Second, "control kernel_info while running"); parentID(m) != kreq.Header.MsgID {
		t.Fatal("wrong control reply")
	}
	c.send(c.control, c.signer, "interrupt_request", map[string]any{})
	if m := recvTimeout(t, c.ctrlC, time.Second, "interrupt_reply"); m.Header.MsgType != "interrupt_reply" {
		t.Fatalf("got %s", m.Header.MsgType)
	}
	rep = recvTimeout(t, c.shellC, 2*time.Second, "interrupted execute_reply")
	if rc := content(t, rep); rc["status"] != "error" || rc["ename"] != "Interrupted" {
		t.Fatalf("interrupted reply %s", rep.Content)
	}
	iopubUntilIdle(t, c, req)

	// stop_on_error: requests queued behind a failing cell are aborted.
	c.send(c.shell, c.signer, "execute_request", map[string]any{"code": "sleep 100ms\nfail"})
	c.send(c.shell, c.signer, "execute_request", map[string]any{"code": "1+1"})
	rep = recvTimeout(t, c.shellC, 2*time.Second, "failing reply")
	rep2 := recvTimeout(t, c.shellC, 2*time.Second, "aborted reply")
	if content(t, rep)["status"] != "error" || content(t, rep2)["status"] != "aborted" {
		t.Fatalf("replies %s / %s", rep.Content, rep2.Content)
	}

	// Display and update_display_data.
	req = c.send(c.shell, c.signer, "execute_request", map[string]any{"code": "image\nprogress 2"})
	if rc := content(t, recvTimeout(t, c.shellC, 2*time.Second, "display execute_reply")); rc["status"] != "ok" {
		t.Fatalf("display reply %v", rc)
	}
	msgs = iopubUntilIdle(t, c, req)
	if got := types(msgs); got != "status,execute_input,display_data,display_data,update_display_data,update_display_data,status" {
		t.Fatalf("display iopub: %s", got)
	}
	if d := content(t, msgs[2])["data"].(map[string]any); !strings.HasPrefix(d["image/png"].(string), "iVBORw0KGgo") {
		t.Fatalf("image/png not base64 PNG: %v", d)
	}
	if tr := content(t, msgs[5])["transient"].(map[string]any); tr["display_id"] != "progress-1" {
		t.Fatalf("update transient %v", tr)
	}

	// Completion with a non-ASCII prefix: cursor positions are in code points.
	c.send(c.shell, c.signer, "complete_request", map[string]any{"code": "é = 1; pri", "cursor_pos": 10})
	rep = recvTimeout(t, c.shellC, 2*time.Second, "complete_reply")
	if rc := content(t, rep); rc["cursor_start"] != 7.0 || rc["cursor_end"] != 10.0 || fmt.Sprint(rc["matches"]) != "[print println]" {
		t.Fatalf("complete_reply %s", rep.Content)
	}
	c.send(c.shell, c.signer, "is_complete_request", map[string]any{"code": "for {"})
	if rc := content(t, recvTimeout(t, c.shellC, 2*time.Second, "is_complete_reply")); rc["status"] != "incomplete" || rc["indent"] != "\t" {
		t.Fatalf("is_complete_reply %v", rc)
	}
	c.send(c.shell, c.signer, "inspect_request", map[string]any{"code": "x", "cursor_pos": 1, "detail_level": 0})
	if rc := content(t, recvTimeout(t, c.shellC, 2*time.Second, "inspect_reply")); rc["found"] != true ||
		rc["data"].(map[string]any)["text/plain"] != "x int = 40" {
		t.Fatalf("inspect_reply %v", rc)
	}

	// Shutdown over control ends Serve.
	c.send(c.control, c.signer, "shutdown_request", map[string]any{"restart": false})
	if rc := content(t, recvTimeout(t, c.ctrlC, time.Second, "shutdown_reply")); rc["restart"] != false {
		t.Fatalf("shutdown_reply %v", rc)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return after shutdown_request")
	}
}

func TestReadyFast(t *testing.T) {
	start := time.Now()
	c, _, _ := startTestKernel(t, "k")
	bound := time.Since(start)
	waitIOPub(t, c)
	t.Logf("sockets bound in %v, first kernel_info round trip with iopub after %v", bound, time.Since(start))
	if bound > 500*time.Millisecond {
		t.Fatalf("binding took %v", bound)
	}
}

func TestSilentAndShellShutdownWithRestart(t *testing.T) {
	restarted := make(chan struct{})
	c, _, done := startTestKernel(t, "", func(o *Options) { o.OnRestart = func() { close(restarted) } })
	waitIOPub(t, c)

	// silent: no execute_input, no output, no result, and the count does not move.
	req := c.send(c.shell, c.signer, "execute_request", map[string]any{"code": "print quiet\n1+1", "silent": true})
	if rc := content(t, recvTimeout(t, c.shellC, 2*time.Second, "silent reply")); rc["status"] != "ok" || rc["execution_count"] != 0.0 {
		t.Fatalf("silent reply %v", rc)
	}
	if got := types(iopubUntilIdle(t, c, req)); got != "status,status" {
		t.Fatalf("silent iopub: %s", got)
	}
	// store_history false: output, but the count does not move either.
	req = c.send(c.shell, c.signer, "execute_request", map[string]any{"code": "1+1", "store_history": false})
	if rc := content(t, recvTimeout(t, c.shellC, 2*time.Second, "reply")); rc["execution_count"] != 0.0 {
		t.Fatalf("store_history=false reply %v", rc)
	}
	if got := types(iopubUntilIdle(t, c, req)); got != "status,execute_input,execute_result,status" {
		t.Fatalf("store_history=false iopub: %s", got)
	}

	c.send(c.shell, c.signer, "shutdown_request", map[string]any{"restart": true})
	if rc := content(t, recvTimeout(t, c.shellC, time.Second, "shutdown_reply")); rc["restart"] != true {
		t.Fatalf("shutdown_reply %v", rc)
	}
	select {
	case <-restarted:
	case <-time.After(time.Second):
		t.Fatal("OnRestart not called")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return after shutdown_request on shell")
	}
}

func TestServeReturnsOnCancel(t *testing.T) {
	ports := freePorts(t, 5)
	ci := ConnectionInfo{IP: "127.0.0.1", Transport: "tcp", ShellPort: ports[0], ControlPort: ports[1],
		StdinPort: ports[2], IOPubPort: ports[3], HBPort: ports[4], Key: "k"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(newFakeEvaluator(), Options{NoSignalHandler: true}).ServeConnection(ctx, ci) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	// The ports are free again.
	ci2 := ci
	done2 := make(chan error, 1)
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { done2 <- New(newFakeEvaluator(), Options{NoSignalHandler: true}).ServeConnection(ctx2, ci2) }()
	time.Sleep(50 * time.Millisecond)
	cancel2()
	if err := <-done2; err != nil {
		t.Fatalf("rebinding: %v", err)
	}
	// A port that is taken is an error.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ci.HBPort = l.Addr().(*net.TCPAddr).Port
	if err := New(newFakeEvaluator(), Options{NoSignalHandler: true}).ServeConnection(context.Background(), ci); err == nil {
		t.Fatal("ServeConnection bound a port in use")
	}
}

// TestCommOpenClosedAndHistory: a comm_open for a target the kernel does
// not have is answered with a comm_close on iopub, as the messaging spec
// asks (it was silently dropped, leaving the frontend's comm dangling); and
// history_request returns the inputs executed with store_history (it
// always returned an empty list).
func TestCommOpenClosedAndHistory(t *testing.T) {
	c, _, _ := startTestKernel(t, "k")
	waitIOPub(t, c)

	req := c.send(c.shell, c.signer, "comm_open", map[string]any{"comm_id": "c1", "target_name": "jupyter.widget", "data": map[string]any{}})
	ms := iopubUntilIdle(t, c, req)
	if got := types(ms); got != "status,comm_close,status" {
		t.Fatalf("comm_open iopub: %s", got)
	}
	if cc := content(t, ms[1]); cc["comm_id"] != "c1" {
		t.Fatalf("comm_close %v", cc)
	}

	for _, code := range []string{"x = 1", "print x", "x = 1"} {
		c.send(c.shell, c.signer, "execute_request", map[string]any{"code": code})
		recvTimeout(t, c.shellC, 2*time.Second, "execute_reply")
	}
	c.send(c.shell, c.signer, "execute_request", map[string]any{"code": "print 7", "store_history": false})
	recvTimeout(t, c.shellC, 2*time.Second, "execute_reply")
	history := func(req map[string]any) string {
		t.Helper()
		c.send(c.shell, c.signer, "history_request", req)
		rc := content(t, recvTimeout(t, c.shellC, 2*time.Second, "history_reply"))
		b, _ := json.Marshal(rc["history"])
		return string(b)
	}
	if got, want := history(map[string]any{"hist_access_type": "tail", "n": 2, "output": false, "raw": true}), `[[1,2,"print x"],[1,3,"x = 1"]]`; got != want {
		t.Errorf("tail: %s, want %s", got, want)
	}
	if got, want := history(map[string]any{"hist_access_type": "range", "session": 0, "start": 1, "stop": 3, "output": true, "raw": true}), `[[1,1,["x = 1",null]],[1,2,["print x",null]]]`; got != want {
		t.Errorf("range: %s, want %s", got, want)
	}
	if got, want := history(map[string]any{"hist_access_type": "search", "pattern": "x*", "unique": true, "output": false, "raw": true}), `[[1,3,"x = 1"]]`; got != want {
		t.Errorf("search: %s, want %s", got, want)
	}
}
