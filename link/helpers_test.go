package link

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/control"
	"github.com/taskmaster/taskmaster/jobs"
	"github.com/taskmaster/taskmaster/jobs/jobstest"
)

// pipeConn is an in-memory Conn: the test is the client at the other end.
type pipeConn struct {
	toServer   chan []byte // nil message: one over the limit
	fromServer chan []byte
	closed     chan struct{}
	once       sync.Once
}

func newPipeConn(buffer int) *pipeConn {
	return &pipeConn{toServer: make(chan []byte, 16), fromServer: make(chan []byte, buffer), closed: make(chan struct{})}
}

func (c *pipeConn) Read(ctx context.Context) ([]byte, error) {
	select {
	case b := <-c.toServer:
		if b == nil {
			return nil, fmt.Errorf("%w (limit 1048576 bytes)", ErrTooLarge)
		}
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.closed:
		return nil, io.EOF
	}
}

func (c *pipeConn) Write(ctx context.Context, b []byte) error {
	b = bytes.Clone(b) // the caller reuses b
	select {
	case c.fromServer <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closed:
		return io.ErrClosedPipe
	}
}

func (c *pipeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// world is a supervisor on fake processes, its control handler, and a
// link server over them.
type world struct {
	t   *testing.T
	dir string
	sup *jobs.Supervisor
	srv *Server
}

func newWorld(t *testing.T, token string, jobFiles map[string]string) *world {
	t.Helper()
	dir, sup := jobstest.Supervisor(t, jobFiles)
	srv := &Server{Ops: control.New(sup, dir), Events: sup, Token: token, BuildVersion: "test",
		HandshakeTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	return &world{t: t, dir: dir, sup: sup, srv: srv}
}

// client is the test's end of one connection.
type client struct {
	t    *testing.T
	c    *pipeConn
	seq  int64
	done chan struct{} // closed when Serve returned
}

func (w *world) connect() *client {
	return w.connectBuffered(256)
}

func (w *world) connectBuffered(buffer int) *client {
	cl := &client{t: w.t, c: newPipeConn(buffer), done: make(chan struct{})}
	go func() {
		defer close(cl.done)
		w.srv.Serve(context.Background(), cl.c)
	}()
	w.t.Cleanup(func() { cl.c.Close(); <-cl.done })
	return cl
}

// register does the handshake and returns hello's data.
func (w *world) register(token string) *client {
	cl := w.connect()
	require.Equal(w.t, TypeHello, cl.next().Type)
	cl.send(TypeRegisterControl, Register{Token: token, Agent: "test", Version: "1.0.0"})
	require.Equal(w.t, TypeReady, cl.next().Type)
	return cl
}

func (cl *client) send(typ string, data any) int64 {
	cl.t.Helper()
	raw, err := json.Marshal(data)
	require.NoError(cl.t, err)
	cl.seq++
	b, err := json.Marshal(Message{Seq: cl.seq, Type: typ, Data: raw})
	require.NoError(cl.t, err)
	cl.sendRaw(b)
	return cl.seq
}

func (cl *client) sendRaw(b []byte) {
	cl.t.Helper()
	select {
	case cl.c.toServer <- b:
	case <-time.After(5 * time.Second):
		cl.t.Fatal("the server does not read")
	}
}

// next returns the next message from the server.
func (cl *client) next() *Message {
	cl.t.Helper()
	select {
	case b := <-cl.c.fromServer:
		m, err := decodeMessage(b)
		require.NoError(cl.t, err)
		return m
	case <-time.After(5 * time.Second):
		cl.t.Fatal("no message from the server")
		return nil
	}
}

// until returns the next message of type typ, skipping others.
func (cl *client) until(typ string) *Message {
	cl.t.Helper()
	for range 1000 {
		if m := cl.next(); m.Type == typ {
			return m
		}
	}
	cl.t.Fatalf("no %s", typ)
	return nil
}

// closed waits for close and returns its reason; Serve must end then.
func (cl *client) closed() string {
	cl.t.Helper()
	m := cl.until(TypeClose)
	var c Close
	require.NoError(cl.t, json.Unmarshal(m.Data, &c))
	select {
	case <-cl.done:
	case <-time.After(5 * time.Second):
		cl.t.Fatal("the session did not end after close")
	}
	return c.Reason
}

func decodeData[T any](t *testing.T, m *Message) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(m.Data, &v), "%s", m.Data)
	return v
}
