package ctlproto

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// fakeHandler answers every command the way the supervisor is expected to,
// driven by magic job names, and records what reached it.
type fakeHandler struct {
	mu    sync.Mutex
	got   []Request
	delay func(req *Request) time.Duration
}

func (h *fakeHandler) ServeCtl(ctx context.Context, req *Request) *Response {
	h.mu.Lock()
	h.got = append(h.got, *req)
	h.mu.Unlock()
	if h.delay != nil {
		select {
		case <-time.After(h.delay(req)):
		case <-ctx.Done():
			return Fail(ctx.Err())
		}
	}
	return fakeAnswer(req)
}

func fakeAnswer(req *Request) *Response {
	switch {
	case req.Job == "boom":
		panic("boom")
	case req.Job == "missing":
		return Failf("no such job %q", req.Job)
	}
	switch req.Command {
	case CmdStart:
		return redundantIf(req.Job == "running")
	case CmdStop, CmdKill:
		return redundantIf(req.Job == "stopped")
	case CmdStatus:
		return Status([]byte(`{"job":"` + req.Job + `"}`))
	case CmdPull, CmdTail:
		return File(req.Job, []byte(`{"cmd":"/bin/true"}`))
	case CmdPush:
		if string(req.Data) == "bad" {
			return Failf("bad job file")
		}
	case CmdList:
		return List(EncodeJobList([]string{"nginx", "apache2"}))
	}
	return Success()
}

func redundantIf(b bool) *Response {
	if b {
		return Redundant()
	}
	return Success()
}

func (h *fakeHandler) requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Request(nil), h.got...)
}

// startServer serves s on a fresh loopback port until the test ends.
func startServer(t *testing.T, s *Server) string {
	t.Helper()
	return serveOn(t, s, listen(t))
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return l
}

// listReply is the fakeHandler's reply to list.
func listReply() string {
	list := b64(string(EncodeJobList([]string{"nginx", "apache2"})))
	return `{"response":"list","data":"` + list + `","list":"` + list + `"};;`
}

// serveOn serves s on l until the test ends.
func serveOn(t *testing.T, s *Server, l net.Listener) string {
	t.Helper()
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, s.Shutdown(ctx))
		require.ErrorIs(t, <-served, ErrServerClosed)
	})
	return l.Addr().String()
}

// dialRaw opens a plain TCP connection with a test-sized deadline.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	t.Cleanup(func() { c.Close() })
	return c
}

// readReply reads raw bytes up to and including the next ";;". Replies hold
// no ';' elsewhere: keys are fixed and values are base64.
func readReply(t *testing.T, c net.Conn) string {
	t.Helper()
	var got []byte
	one := make([]byte, 1)
	for !bytes.HasSuffix(got, []byte(";;")) {
		_, err := c.Read(one)
		require.NoError(t, err, "read so far: %q", got)
		got = append(got, one[0])
	}
	return string(got)
}

// exchange writes send and returns the next raw reply.
func exchange(t *testing.T, c net.Conn, send string) string {
	t.Helper()
	_, err := c.Write([]byte(send))
	require.NoError(t, err)
	return readReply(t, c)
}

// requireClosed checks that the server closed c, sending nothing more.
func requireClosed(t *testing.T, c net.Conn) {
	t.Helper()
	n, err := c.Read(make([]byte, 64))
	require.Zero(t, n)
	require.Error(t, err)
	require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "connection still open")
}

// logBuffer collects log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) count(substr string) int { return strings.Count(b.String(), substr) }

func newLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// awaitConns waits until s counts open connections (those not closing)
// and, of them, idle ones: admitted and waiting for their next request,
// which is what makes a connection evictable.
func awaitConns(t *testing.T, s *Server, open, idle int) {
	t.Helper()
	require.Eventually(t, func() bool {
		gotOpen, gotIdle := s.countConns()
		return gotOpen == open && gotIdle == idle
	}, 10*time.Second, time.Millisecond, "want %d open connections, %d of them idle", open, idle)
}

// awaitOpen waits until s counts open connections (those not closing).
func awaitOpen(t *testing.T, s *Server, open int) {
	t.Helper()
	require.Eventually(t, func() bool {
		got, _ := s.countConns()
		return got == open
	}, 10*time.Second, time.Millisecond, "want %d open connections", open)
}

func (s *Server) checksInProgress() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checking
}

func (s *Server) countConns() (open, idle int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if !c.leaving {
			open++
		}
		if c.admitted && c.reading && !c.leaving {
			idle++
		}
	}
	return open, idle
}

func (s *Server) countIdle() int {
	_, idle := s.countConns()
	return idle
}
