package ctlproto

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// serveAsync serves s on a fresh loopback port and returns the address and
// Serve's result. The test must shut s down itself.
func serveAsync(t *testing.T, s *Server) (string, <-chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	return l.Addr().String(), served
}

// Shutdown cancels the Handler context, lets the request in flight write its
// reply, closes idle connections and stops accepting.
func TestShutdownGraceful(t *testing.T) {
	leakCheck(t)
	entered := make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, req *Request) *Response {
		close(entered)
		<-ctx.Done()
		return Failf("shutting down")
	})
	s := &Server{Handler: h}
	addr, served := serveAsync(t, s)
	busy, idle := dialRaw(t, addr), dialRaw(t, addr)
	_, err := busy.Write([]byte(`{"command":"wait","job":"YQ==","data":"e30="};;`))
	require.NoError(t, err)
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))
	require.ErrorIs(t, <-served, ErrServerClosed)
	require.Equal(t, `{"response":"fail","error":"`+b64("shutting down")+`"};;`, readReply(t, busy))
	requireClosed(t, busy)
	requireClosed(t, idle)
	_, err = net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err, "listener still open")
	require.ErrorIs(t, s.Serve(mustListen(t)), ErrServerClosed, "Serve after Shutdown")
}

// A Handler that ignores its context makes Shutdown give up at its deadline
// and close the connections by force.
func TestShutdownDeadline(t *testing.T) {
	leakCheck(t)
	release := make(chan struct{})
	entered := make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, req *Request) *Response {
		close(entered)
		<-release
		return Success()
	})
	s := &Server{Handler: h}
	addr, served := serveAsync(t, s)
	busy := dialRaw(t, addr)
	_, err := busy.Write([]byte(`{"command":"restart"};;`))
	require.NoError(t, err)
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, s.Shutdown(ctx), context.DeadlineExceeded)
	require.ErrorIs(t, <-served, ErrServerClosed)
	requireClosed(t, busy)
	close(release) // let the handler's goroutine end before the leak check
}

func TestServeNilHandler(t *testing.T) {
	require.ErrorContains(t, (&Server{}).Serve(mustListen(t)), "Handler is nil")
}

func mustListen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return l
}
