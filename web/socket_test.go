package web

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// socketPair is a wsConn as the live link gets it, and the client at the
// other end. Both sides' socket buffers are as small as the kernel
// allows, so that a message of a MiB to a client that does not read
// blocks its write.
func socketPair(t *testing.T) (*wsConn, *websocket.Conn) {
	t.Helper()
	conns := make(chan *wsConn, 1)
	done := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bw := &batchWriter{ResponseWriter: w}
		c, err := websocket.Accept(bw, r, nil)
		if err != nil {
			return
		}
		c.SetReadLimit(-1)
		require.NoError(t, bw.conn.Conn.(*net.TCPConn).SetWriteBuffer(1))
		conns <- &wsConn{c: c, limit: 1 << 20, batch: bw.conn}
		<-done
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(func() { close(done) })
	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1)
		})
	}}
	client, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(ts.URL, "http"),
		&websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}})
	require.NoError(t, err)
	t.Cleanup(func() { client.CloseNow() })
	return <-conns, client
}

// inFlight reports whether w has a write in flight.
func (w *wsConn) inFlight() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writing
}

// A message to a client that does not read waits for the context's
// deadline, no longer, and says so.
func TestSocketWriteEndsAtTheDeadline(t *testing.T) {
	w, _ := socketPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := w.Write(ctx, make([]byte, 1<<20))
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// A write blocked on a client that does not read ends as soon as its
// context does, not at a deadline (there is none here): the library is
// not given the context, so the socket's own deadline must end it.
func TestSocketWriteEndsWithItsContext(t *testing.T) {
	w, _ := socketPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() { result <- w.Write(ctx, make([]byte, 1<<20)) }()
	require.Eventually(t, w.inFlight, 10*time.Second, time.Millisecond, "the write never began")
	cancel()
	select {
	case err := <-result:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("the write outlived its context")
	}
}

// Once a write's context has ended, between writes, the connection still
// writes: the library's pong to a ping goes out, although the watch of
// the ended context ran after the write was over.
func TestSocketAnswersPingsAfterAContextEnded(t *testing.T) {
	w, client := socketPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, w.Write(ctx, []byte(`{"seq":1}`)))
	_, got, err := client.Read(context.Background())
	require.NoError(t, err)
	require.Equal(t, `{"seq":1}`, string(got))

	cancel()
	w.abort(ctx)                                        // as the watch does, whenever it runs
	go func() { _, _ = w.Read(context.Background()) }() // the library answers pings while reading
	client.CloseRead(context.Background())
	pctx, pcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer pcancel()
	require.NoError(t, client.Ping(pctx), "the pong did not come back")
}
