package web

import (
	"context"
	"fmt"
	"io"
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

// Write sends one message by ctx's deadline. The deadline is also set on
// the connection under the batch: a held batch that overflows is written
// from inside the library's Write, and must not wait on a client that
// never reads for longer than the message would have.
func (w *wsConn) Write(ctx context.Context, msg []byte) error {
	if d, ok := ctx.Deadline(); ok && w.batch != nil {
		_ = w.batch.Conn.SetWriteDeadline(d)
		defer w.batch.Conn.SetWriteDeadline(time.Time{})
	}
	return w.c.Write(ctx, websocket.MessageText, msg)
}

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
	return w.batch.Flush(ctx)
}
