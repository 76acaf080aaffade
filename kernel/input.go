package kernel

import (
	"context"
	"encoding/json"
	"errors"
)

// ErrNoStdin is Input's error when the frontend did not allow input for the running cell
// (execute_request's allow_stdin is false, as with nbconvert and nbclient), or when no cell is
// running.
var ErrNoStdin = errors.New("this frontend does not support input requests (allow_stdin is false)")

type inputKey struct{}

// InputFunc answers Input for the cell a context belongs to.
type InputFunc func(ctx context.Context, prompt string, password bool) (string, error)

// WithInput returns ctx with f answering Input: the kernel gives each cell's Execute such a ctx;
// tests of an Evaluator can give their own.
func WithInput(ctx context.Context, f InputFunc) context.Context {
	return context.WithValue(ctx, inputKey{}, f)
}

// Input asks the frontend for one line of input on behalf of the cell that Execute's ctx belongs
// to: an input_request on the stdin channel, answered by the user in the input box the frontend
// shows (what Python's input() does in ipykernel). prompt is shown in front of the box; password
// hides what is typed. Output the cell wrote before is published first. The line comes back
// without a newline. Input returns ErrNoStdin when the frontend does not accept input requests,
// and ctx's error when the cell is interrupted while it waits.
func Input(ctx context.Context, prompt string, password bool) (string, error) {
	f, _ := ctx.Value(inputKey{}).(InputFunc)
	if f == nil {
		return "", ErrNoStdin
	}
	return f(ctx, prompt, password)
}

// requestInput sends an input_request for the execute request parent and waits for the
// input_reply (or ctx's end).
func (k *Kernel) requestInput(ctx context.Context, parent *Message, prompt string, password bool) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err // interrupted: no input box that nothing would read
	}
	m, err := newMessage(k.session, "input_request", parent, map[string]any{"prompt": prompt, "password": password}, nil)
	if err != nil {
		return "", err
	}
	ch := make(chan string, 1)
	k.mu.Lock()
	k.inputWait, k.inputID = ch, m.Header.MsgID
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		if k.inputWait == ch {
			k.inputWait = nil
		}
		k.mu.Unlock()
	}()
	// The stdin channel's DEALER has the identity of the shell channel's.
	m.Identities = parent.Identities
	k.send(k.stdin, m)
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// handleStdin takes an input_reply for the cell waiting in requestInput.
func (k *Kernel) handleStdin(m *Message) {
	if m.Header.MsgType != "input_reply" {
		k.log.Printf("stdin: ignoring %s", m.Header.MsgType)
		return
	}
	var c struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(m.Content, &c); err != nil {
		k.log.Printf("stdin: bad input_reply: %v", err)
		return
	}
	// A reply that names its request (jupyter_client's does not) must
	// answer the request waiting: an input box left over from an
	// interrupted cell must not answer the next cell's request.
	var ph Header
	_ = json.Unmarshal(m.ParentHeader, &ph)
	k.mu.Lock()
	ch := k.inputWait
	if ch != nil && ph.MsgID != "" && ph.MsgID != k.inputID {
		ch = nil
	}
	if ch != nil {
		k.inputWait = nil
	}
	k.mu.Unlock()
	if ch == nil {
		k.log.Printf("stdin: input_reply that answers no waiting input_request")
		return
	}
	ch <- c.Value
}
