package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/taskmaster/taskmaster/link"
)

// wsConn carries the live link over a WebSocket: one JSON message per
// WebSocket message.
type wsConn struct {
	c     *websocket.Conn
	limit int64
	batch *batchConn // the connection under c

	mu      sync.Mutex
	watched context.Context // the context of the latest write (see Write)
	unwatch func() bool     // ends the watch of watched
	writing bool            // a write is in flight under watched
}

// Read returns the next message; one over the limit is link.ErrTooLarge,
// so that the link can tell the client before the connection ends.
func (w *wsConn) Read(ctx context.Context) ([]byte, error) {
	_, r, err := w.c.Reader(ctx)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(r, w.limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > w.limit {
		return nil, fmt.Errorf("%w (limit %d bytes)", link.ErrTooLarge, w.limit)
	}
	return b, nil
}

// Write sends one message by ctx's deadline, or until ctx ends.
//
// The library, given a context that can end, registers a callback on it
// for every message (context.AfterFunc: allocations, and the parent's
// lock twice); with a hundred clients that was a fifth of the CPU time
// the live link cost taskmasterd. The link sends the messages of a while
// with one context, so the callback is registered here, once per context,
// and the library gets a context it need not watch. The bound is the
// connection's write deadline, which also ends a held batch that
// overflows from inside the library's Write: set for the message and
// cleared after it, because the library's replies to pings go out between
// messages and must not meet a deadline long past.
func (w *wsConn) Write(ctx context.Context, msg []byte) error {
	if w.batch == nil {
		return w.c.Write(ctx, websocket.MessageText, msg)
	}
	if err := w.begin(ctx); err != nil {
		return err
	}
	err := w.c.Write(context.Background(), websocket.MessageText, msg)
	w.end()
	return contextError(ctx, err)
}

// contextError is err, or the end of ctx that caused it, as the library
// would have said: the socket's deadline, equal to ctx's, may fire a
// moment before ctx's own timer.
func contextError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if d, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return err
}

// begin readies the connection for a write under ctx: its deadline, and
// ctx's end watched.
func (w *wsConn) begin(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if ctx != w.watched {
		if w.unwatch != nil {
			w.unwatch()
		}
		w.watched = ctx
		w.unwatch = context.AfterFunc(ctx, func() { w.abort(ctx) })
	}
	w.writing = true
	d, _ := ctx.Deadline() // none: the zero time, no deadline
	_ = w.batch.Conn.SetWriteDeadline(d)
	return nil
}

// end clears what begin set, once the write is over.
func (w *wsConn) end() {
	w.mu.Lock()
	w.writing = false
	_ = w.batch.Conn.SetWriteDeadline(time.Time{})
	w.mu.Unlock()
}

// abort ends the write in flight under ctx, which has ended: a deadline
// in the past makes the connection's write return at once. A callback of
// a context no longer in use, or one that runs between writes, does
// nothing.
func (w *wsConn) abort(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.writing && w.watched == ctx {
		_ = w.batch.Conn.SetWriteDeadline(aLongTimeAgo)
	}
}

// aLongTimeAgo is a deadline in the past.
var aLongTimeAgo = time.Unix(1, 0)

func (w *wsConn) Close() error {
	return w.c.Close(websocket.StatusNormalClosure, "")
}

// Hold keeps the messages written from now on until Flush (link.Batcher).
func (w *wsConn) Hold() {
	if w.batch != nil {
		w.batch.Hold()
	}
}

// Flush sends the messages held, in one write.
func (w *wsConn) Flush(ctx context.Context) error {
	if w.batch == nil {
		return nil
	}
	if err := w.begin(ctx); err != nil {
		return err
	}
	err := w.batch.Flush()
	w.end()
	return contextError(ctx, err)
}
