package ctlproto

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A request whose client hangs up before the reply is abandoned: the
// Handler's context ends, so a long wait does not hold a connection slot
// for nothing.
func TestHandlerContextEndsWhenThePeerHangsUp(t *testing.T) {
	cancelled := make(chan error, 1)
	addr := startServer(t, &Server{Handler: HandlerFunc(func(ctx context.Context, _ *Request) *Response {
		<-ctx.Done()
		cancelled <- ctx.Err()
		return Success()
	})})
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = nc.Write([]byte(`{"command":"wait","job":"YQ==","data":"e30="};;`))
	require.NoError(t, err)
	nc.Close()
	select {
	case err := <-cancelled:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("the Handler kept waiting for a client that was gone")
	}
}

// Watching for a hangup consumes nothing: a request pipelined behind a slow
// one is still answered, in order.
func TestHangupWatchKeepsPipelinedRequests(t *testing.T) {
	release := make(chan struct{})
	addr := startServer(t, &Server{Handler: HandlerFunc(func(ctx context.Context, req *Request) *Response {
		if req.Job == "slow" {
			<-release
		}
		return File(req.Job, nil)
	})})
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer nc.Close()
	_, err = nc.Write([]byte(`{"command":"pull","job":"` + b64("slow") + `"};;`))
	require.NoError(t, err)
	_, err = nc.Write([]byte(`{"command":"pull","job":"` + b64("fast") + `"};;`))
	require.NoError(t, err)
	close(release)
	fr := NewFrameReader(nc, 0)
	for _, want := range []string{"slow", "fast"} {
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		frame, err := fr.Next()
		require.NoError(t, err)
		resp, err := DecodeResponse(frame)
		require.NoError(t, err)
		require.Equal(t, want, resp.Job)
	}
}

// The hang-up watch lasts as long as the request, past the idle timeout
// that bounds the wait for a message.
func TestHangupSeenAfterTheIdleTimeout(t *testing.T) {
	const idle = 200 * time.Millisecond
	started, cancelled := make(chan struct{}), make(chan error, 1)
	addr := startServer(t, &Server{IdleTimeout: idle, Handler: HandlerFunc(func(ctx context.Context, _ *Request) *Response {
		close(started)
		<-ctx.Done()
		cancelled <- ctx.Err()
		return Success()
	})})
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = nc.Write([]byte(`{"command":"wait","job":"YQ==","data":"e30="};;`))
	require.NoError(t, err)
	<-started
	select {
	case <-cancelled:
		t.Fatal("the request was abandoned while its client was still there")
	case <-time.After(3 * idle): // the scenario: more than the idle timeout passes
	}
	nc.Close()
	select {
	case err := <-cancelled:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("a hang-up after the idle timeout went unnoticed")
	}
}
