package ctlproto

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// echoStreams is a Handler whose "attach" opens a stream that answers each
// input with the same bytes as output, "detach" with detached, and ends
// with detached "server going" when the server shuts down. Other commands
// get the fakeHandler's answers.
type echoStreams struct {
	fakeHandler
	opened chan struct{}     // a value each time a stream function starts
	ended  chan error        // why each stream function returned
	hook   func(*Stream) any // runs at the start of the stream function, if set
}

func newEchoStreams() *echoStreams {
	return &echoStreams{opened: make(chan struct{}, 64), ended: make(chan error, 64)}
}

func (h *echoStreams) ServeCtl(ctx context.Context, req *Request) *Response {
	if req.Command != CmdAttach {
		return h.fakeHandler.ServeCtl(ctx, req)
	}
	return &Response{Kind: KindAttached, Job: req.Job, Data: []byte(`{"tty":true}`), Stream: h.serve}
}

func (h *echoStreams) serve(ctx context.Context, st *Stream) {
	h.opened <- struct{}{}
	if h.hook != nil {
		h.hook(st)
	}
	for {
		req, err := st.Recv()
		var rerr *RequestError
		switch {
		case errors.As(err, &rerr):
			_ = st.Send(Invalid(rerr.Reason))
			continue
		case err != nil:
			if ctx.Err() != nil {
				_ = st.Send(&Response{Kind: KindDetached, Error: "server going"})
			}
			h.ended <- err
			return
		}
		switch req.Command {
		case CmdInput:
			_ = st.Send(&Response{Kind: KindOutput, Data: req.Data})
		case CmdDetach:
			_ = st.Send(&Response{Kind: KindDetached})
			h.ended <- nil
			return
		}
	}
}

// openStream attaches through a Client.
func openStream(t *testing.T, addr string) *ClientStream {
	t.Helper()
	c, err := Dial(context.Background(), addr, "")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, st, err := c.Open(ctx, &Request{Command: CmdAttach, Job: "console:0"}, KindAttached)
	require.NoError(t, err)
	require.NotNil(t, st, "reply %+v", resp)
	require.Equal(t, "console:0", resp.Job)
	require.Equal(t, `{"tty":true}`, string(resp.Data))
	// The Client itself sends no more requests on it.
	_, err = c.Do(context.Background(), &Request{Command: CmdList})
	require.ErrorContains(t, err, "carries a stream")
	t.Cleanup(func() { st.Close() })
	return st
}

func recv(t *testing.T, st *ClientStream) *Response {
	t.Helper()
	resp, err := st.Recv()
	require.NoError(t, err)
	return resp
}

// The bytes of a stream: the attach reply, then messages both ways, each
// ";;"-terminated JSON with base64 fields; a malformed message is answered
// invalid and the stream goes on; detach ends it and the connection.
func TestStreamWire(t *testing.T) {
	leakCheck(t)
	h := newEchoStreams()
	addr := startServer(t, &Server{Handler: h})
	c := dialRaw(t, addr)
	require.Equal(t, `{"response":"attached","job":"`+b64("console:0")+`","data":"`+b64(`{"tty":true}`)+`"};;`,
		exchange(t, c, `{"command":"attach","job":"`+b64("console:0")+`"};;`))
	require.Equal(t, `{"response":"output","data":"`+b64("ls\r")+`"};;`,
		exchange(t, c, `{"command":"input","data":"`+b64("ls\r")+`"};;`))
	require.Contains(t, exchange(t, c, `{"command":"input",;;`), `{"response":"invalid","error":`)
	require.Equal(t, `{"response":"detached"};;`, exchange(t, c, `{"command":"detach"};;`))
	requireClosed(t, c)
	require.NoError(t, <-h.ended)
}

// The messages of a stream are nothing outside one.
func TestStreamMessagesOutsideAStream(t *testing.T) {
	leakCheck(t)
	addr := startServer(t, &Server{Handler: newEchoStreams()})
	c := dialRaw(t, addr)
	for _, cmd := range []string{"input", "resize", "detach"} {
		require.Equal(t, `{"response":"invalid","error":"`+b64(`"`+cmd+`" is only valid in the stream an attach opened`)+`"};;`,
			exchange(t, c, `{"command":"`+cmd+`","data":"eA=="};;`))
	}
	require.Equal(t, listReply(), exchange(t, c, `{"command":"list"};;`))
}

// A client closing its side ends the stream function's Recv with EOF.
func TestStreamClientGoes(t *testing.T) {
	leakCheck(t)
	h := newEchoStreams()
	addr := startServer(t, &Server{Handler: h})
	st := openStream(t, addr)
	require.NoError(t, st.Send(&Request{Command: CmdInput, Data: []byte("x")}))
	require.Equal(t, &Response{Kind: KindOutput, Data: []byte("x")}, recv(t, st))
	require.NoError(t, st.Close())
	require.ErrorIs(t, <-h.ended, io.EOF)
}

// A stream is never evicted: it is in the middle of a request. A newcomer
// takes an idle connection's place, and when only streams are left it is
// refused.
func TestStreamsAreNotEvicted(t *testing.T) {
	leakCheck(t)
	h := newEchoStreams()
	s := &Server{Handler: h, MaxConns: 2}
	addr := startServer(t, s)
	st := openStream(t, addr)
	idle := dialRaw(t, addr)
	require.Equal(t, listReply(), exchange(t, idle, `{"command":"list"};;`))
	awaitConns(t, s, 2, 1)

	newcomer := dialRaw(t, addr)
	require.Equal(t, `{"response":"fail","error":"`+b64("evicted: too many connections")+`"};;`, readReply(t, idle))
	require.Contains(t, exchange(t, newcomer, `{"command":"attach","job":"`+b64("b:0")+`"};;`), `{"response":"attached"`)
	<-h.opened
	<-h.opened
	awaitConns(t, s, 2, 0)
	refused := dialRaw(t, addr)
	require.Equal(t, `{"response":"fail","error":"`+b64("too many connections")+`"};;`, readReply(t, refused))

	// Both streams still work.
	require.NoError(t, st.Send(&Request{Command: CmdInput, Data: []byte("still")}))
	require.Equal(t, &Response{Kind: KindOutput, Data: []byte("still")}, recv(t, st))
}

// A stream has no idle timeout: it outlives a plain connection made after
// it that the idle timeout closes.
func TestStreamHasNoIdleTimeout(t *testing.T) {
	leakCheck(t)
	h := newEchoStreams()
	s := &Server{Handler: h, IdleTimeout: 50 * time.Millisecond}
	addr := startServer(t, s)
	st := openStream(t, addr)
	<-h.opened
	plain := dialRaw(t, addr)
	require.Equal(t, listReply(), exchange(t, plain, `{"command":"list"};;`))
	requireClosed(t, plain) // idle for IdleTimeout, after the stream began
	require.NoError(t, st.Send(&Request{Command: CmdInput, Data: []byte("awake")}))
	require.Equal(t, &Response{Kind: KindOutput, Data: []byte("awake")}, recv(t, st))
}

// Shutdown ends streams: their Recv fails and their context ends; the
// stream's last words reach the client.
func TestShutdownEndsStreams(t *testing.T) {
	leakCheck(t)
	h := newEchoStreams()
	s := &Server{Handler: h}
	l := listen(t)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	st := openStream(t, l.Addr().String())
	<-h.opened
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))
	require.ErrorIs(t, <-served, ErrServerClosed)
	require.Error(t, <-h.ended)
	require.Equal(t, &Response{Kind: KindDetached, Error: "server going"}, recv(t, st))
	_, err := st.Recv()
	require.Error(t, err)
}

// A stream function is called even when the stream cannot open (the
// server began to shut down while the request ran), with a Stream that
// fails at once, so that it can let go of what it holds.
func TestStreamFunctionAlwaysCalled(t *testing.T) {
	leakCheck(t)
	called, entered := make(chan error, 1), make(chan struct{})
	handler := HandlerFunc(func(ctx context.Context, req *Request) *Response {
		close(entered)
		<-ctx.Done() // the server is shutting down
		return &Response{Kind: KindAttached, Stream: func(_ context.Context, st *Stream) {
			_, err := st.Recv()
			called <- err
		}}
	})
	s := &Server{Handler: handler}
	l := listen(t)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	c := dialRaw(t, l.Addr().String())
	_, err := c.Write([]byte(`{"command":"attach","job":"eA=="};;`))
	require.NoError(t, err)
	<-entered
	require.NoError(t, s.Shutdown(context.Background()))
	<-served
	require.ErrorIs(t, <-called, ErrStreamNotOpen)
}

// A panic in a stream function is logged; the server goes on.
func TestStreamPanic(t *testing.T) {
	leakCheck(t)
	var logs logBuffer
	h := newEchoStreams()
	h.hook = func(*Stream) any { panic("stream boom") }
	addr := startServer(t, &Server{Handler: h, Logger: newLogger(&logs)})
	c := dialRaw(t, addr)
	require.Contains(t, exchange(t, c, `{"command":"attach","job":"eA=="};;`), `"response":"attached"`)
	requireClosed(t, c)
	require.Eventually(t, func() bool { return logs.count("control stream panicked") == 1 }, 10*time.Second, time.Millisecond)
	other := dialRaw(t, addr)
	require.Equal(t, listReply(), exchange(t, other, `{"command":"list"};;`))
}

// WaitClosed returns once the server closes the connection, and gives up
// when its context ends.
func TestClientWaitClosed(t *testing.T) {
	leakCheck(t)
	s := &Server{Handler: &fakeHandler{}}
	l := listen(t)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	c, err := Dial(context.Background(), l.Addr().String(), "")
	require.NoError(t, err)
	defer c.Close()
	resp, err := c.Do(context.Background(), &Request{Command: CmdList})
	require.NoError(t, err)
	require.Equal(t, KindList, resp.Kind)

	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, c.WaitClosed(short), context.DeadlineExceeded)

	c2, err := Dial(context.Background(), l.Addr().String(), "")
	require.NoError(t, err)
	defer c2.Close()
	_, err = c2.Do(context.Background(), &Request{Command: CmdList})
	require.NoError(t, err)
	waited := make(chan error, 1)
	go func() { waited <- c2.WaitClosed(context.Background()) }()
	require.NoError(t, s.Shutdown(context.Background()))
	<-served
	require.NoError(t, <-waited)
}
