package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/jobs/attach"
)

// attachRequest is the data of an attach request: the client's window,
// when it has one.
type attachRequest struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// attachReply is the data of the attached reply.
type attachReply struct {
	Instance string `json:"instance"` // NAME:N
	TTY      bool   `json:"tty"`      // the process has a terminal: input and resize work
}

// exitData is the data of the exit message that ends a session.
type exitData struct {
	ExitCode int    `json:"exit_code"`
	Signal   string `json:"signal,omitempty"`
}

// attach attaches the client to one instance's process, then turns the
// connection into the session's stream (docs/protocol.md, attach).
func (h *Handler) attach(ctx context.Context, target string, data []byte) *ctlproto.Response {
	var req attachRequest
	if err := strictJSON(data, &req); err != nil {
		return ctlproto.Failf(`attach: data must be JSON like {"rows":24,"cols":80}: %v`, err)
	}
	sess, name, err := h.sup.Attach(ctx, target, 0)
	if err != nil {
		return ctlproto.Fail(err)
	}
	if size := (attach.Size{Rows: req.Rows, Cols: req.Cols}); sess.TTY() && size != (attach.Size{}) {
		if err := sess.Resize(size); err != nil {
			sess.Close()
			return ctlproto.Failf("attach: %v", err)
		}
	}
	reply, err := json.Marshal(attachReply{Instance: name, TTY: sess.TTY()})
	if err != nil {
		sess.Close()
		return ctlproto.Fail(err)
	}
	return &ctlproto.Response{Kind: ctlproto.KindAttached, Job: name, Data: reply,
		Stream: func(ctx context.Context, st *ctlproto.Stream) { serveSession(ctx, st, sess) }}
}

// strictJSON decodes data, when there is any, into v; an unknown key is an
// error that names it.
func strictJSON(data []byte, v any) error {
	if len(data) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// serveSession carries a session over its stream: this goroutine passes
// the client's messages on, another sends the output, until the session
// ends (the process exited, the client detached or went away, the session
// was dropped for falling behind, taskmasterd shuts down).
func serveSession(ctx context.Context, st *ctlproto.Stream, sess *attach.Session) {
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		sendOutput(ctx, st, sess)
		st.StopRecv() // the session's last word is said: receiveInput returns
	}()
	receiveInput(st, sess)
	sess.Close()
	<-sent
}

// sendOutput sends the session's output as it comes, then how it ended.
func sendOutput(ctx context.Context, st *ctlproto.Stream, sess *attach.Session) {
	for {
		out, end, err := sess.Next(ctx)
		switch {
		case err != nil:
			_ = st.Send(&ctlproto.Response{Kind: ctlproto.KindDetached, Error: "taskmasterd is shutting down"})
			return
		case end != nil:
			_ = st.Send(endMessage(end))
			return
		}
		if err := st.Send(&ctlproto.Response{Kind: ctlproto.KindOutput, Data: out}); err != nil {
			return // the client went, or stopped reading for StreamWriteTimeout
		}
	}
}

// endMessage is the last message of a session.
func endMessage(end *attach.End) *ctlproto.Response {
	if end.Exit != nil {
		data, _ := json.Marshal(exitData{ExitCode: end.Exit.Code, Signal: end.Exit.Signal})
		return &ctlproto.Response{Kind: ctlproto.KindExit, Data: data}
	}
	resp := &ctlproto.Response{Kind: ctlproto.KindDetached}
	if end.Reason != "detached" { // asked for: nothing to explain
		resp.Error = end.Reason
	}
	return resp
}

// receiveInput passes the client's input and window sizes to the session
// until the client detaches or goes, or the stream stops.
func receiveInput(st *ctlproto.Stream, sess *attach.Session) {
	for {
		req, err := st.Recv()
		var rerr *ctlproto.RequestError
		switch {
		case errors.As(err, &rerr):
			_ = st.Send(ctlproto.Invalid(rerr.Reason))
			continue
		case err != nil:
			return
		}
		switch req.Command {
		case ctlproto.CmdInput:
			if _, err := sess.Write(req.Data); err != nil && !ended(err) {
				_ = st.Send(ctlproto.Failf("input: %v", err))
			}
		case ctlproto.CmdResize:
			var size attach.Size
			if err := strictJSON(req.Data, &size); err != nil {
				_ = st.Send(ctlproto.Failf(`resize: data must be JSON like {"rows":24,"cols":80}: %v`, err))
			} else if err := sess.Resize(size); err != nil {
				_ = st.Send(ctlproto.Failf("resize: %v", err))
			}
		case ctlproto.CmdDetach:
			return
		default:
			_ = st.Send(ctlproto.Invalid(fmt.Sprintf("%q is not a message of an attach session (input, resize or detach)", req.Command)))
		}
	}
}

// ended reports whether a write of input failed because the session or
// its terminal has ended: the end itself is on its way to the client.
func ended(err error) bool {
	return errors.Is(err, os.ErrClosed) || errors.Is(err, syscall.EIO)
}
