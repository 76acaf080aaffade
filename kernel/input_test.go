package kernel

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// TestInputRequest: a cell that reads input sends an input_request on the stdin channel (after
// the output it wrote before), gets the input_reply's value, and finishes; without allow_stdin
// the read fails with ErrNoStdin at once; an interrupt ends a read that waits. (stdin was not
// served: every read got EOF.)
func TestInputRequest(t *testing.T) {
	c, _, _ := startTestKernel(t, "k")
	waitIOPub(t, c)
	// jupyter_client's stdin DEALER has the identity of its shell DEALER.
	cctx, ccancel := context.WithCancel(context.Background())
	defer ccancel()
	stdin := zmq4.NewDealer(cctx, zmq4.WithID(zmq4.SocketIdentity("shell-"+c.session)))
	defer stdin.Close()
	ports := c.ports
	if err := stdin.Dial(fmt.Sprintf("tcp://127.0.0.1:%d", ports.StdinPort)); err != nil {
		t.Fatal(err)
	}
	stdinC := make(chan *Message, 10)
	go c.pump(stdin, stdinC)
	time.Sleep(100 * time.Millisecond) // let the ROUTER learn the identity

	req := c.send(c.shell, c.signer, "execute_request", map[string]any{
		"code": "print question\ninput name? ", "allow_stdin": true})
	ir := recvTimeout(t, stdinC, 5*time.Second, "input_request")
	if ir.Header.MsgType != "input_request" || parentID(ir) != req.Header.MsgID {
		t.Fatalf("stdin got %s (parent %s), want an input_request of %s", ir.Header.MsgType, parentID(ir), req.Header.MsgID)
	}
	if ct := content(t, ir); ct["prompt"] != "name?" || ct["password"] != false {
		t.Fatalf("input_request content %v", ct)
	}
	c.send(stdin, c.signer, "input_reply", map[string]any{"value": "Alice"})
	if rc := content(t, recvTimeout(t, c.shellC, 5*time.Second, "execute_reply")); rc["status"] != "ok" {
		t.Fatalf("execute_reply %v", rc)
	}
	msgs := iopubUntilIdle(t, c, req)
	if got := types(msgs); got != "status,execute_input,stream,execute_result,status" {
		t.Fatalf("iopub: %s", got)
	}
	if d := content(t, msgs[3])["data"].(map[string]any); d["text/plain"] != "got Alice" {
		t.Fatalf("result %v", d)
	}

	// allow_stdin false (nbconvert): no request, ErrNoStdin.
	req = c.send(c.shell, c.signer, "execute_request", map[string]any{"code": "input x", "allow_stdin": false})
	rc := content(t, recvTimeout(t, c.shellC, 5*time.Second, "execute_reply"))
	if rc["status"] != "error" || rc["evalue"] != ErrNoStdin.Error() {
		t.Fatalf("without allow_stdin: %v", rc)
	}
	iopubUntilIdle(t, c, req)

	// An interrupt ends the wait.
	req = c.send(c.shell, c.signer, "execute_request", map[string]any{"code": "input wait", "allow_stdin": true})
	stale := recvTimeout(t, stdinC, 5*time.Second, "input_request")
	c.send(c.control, c.signer, "interrupt_request", map[string]any{})
	recvTimeout(t, c.ctrlC, 5*time.Second, "interrupt_reply")
	rc = content(t, recvTimeout(t, c.shellC, 5*time.Second, "execute_reply"))
	if rc["status"] != "error" || rc["ename"] != "Interrupted" {
		t.Fatalf("interrupted input: %v", rc)
	}
	iopubUntilIdle(t, c, req)

	// The interrupted cell's input box answered late does not answer the next cell's request.
	req = c.send(c.shell, c.signer, "execute_request", map[string]any{"code": "input again", "allow_stdin": true})
	recvTimeout(t, stdinC, 5*time.Second, "input_request")
	late, err := newMessage(c.session, "input_reply", stale, map[string]any{"value": "stale"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := stdin.SendMulti(zmq4.NewMsgFrom(Encode(late, c.signer)...)); err != nil {
		t.Fatal(err)
	}
	c.send(stdin, c.signer, "input_reply", map[string]any{"value": "fresh"})
	recvTimeout(t, c.shellC, 5*time.Second, "execute_reply")
	msgs = iopubUntilIdle(t, c, req)
	if got := types(msgs); got != "status,execute_input,execute_result,status" {
		t.Fatalf("iopub: %s", got)
	}
	if d := content(t, msgs[2])["data"].(map[string]any); d["text/plain"] != "got fresh" {
		t.Fatalf("result %v", d)
	}
	if _, err := Input(context.Background(), "", false); !errors.Is(err, ErrNoStdin) {
		t.Fatalf("Input outside a cell: %v", err)
	}
}
