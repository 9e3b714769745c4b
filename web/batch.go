package web

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// maxBatch bounds what a batchConn holds: a burst larger than this goes
// out in several writes.
const maxBatch = 64 << 10

// batchConn is the TCP connection under a live link's WebSocket. The
// WebSocket library flushes every message with its own write(2); while
// the link holds the connection (it has more messages waiting), what is
// written is kept instead, and Flush sends it all in one write. A client
// then costs one system call per burst of events rather than one per
// event, and its kernel one segment.
type batchConn struct {
	net.Conn
	mu   sync.Mutex
	held bool
	buf  []byte
}

// Write sends p, or keeps it while the connection is held. The WebSocket
// library serializes its writes; the mutex is for Hold and Flush, which
// the link's writer calls between them.
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held {
		if len(c.buf)+len(p) > maxBatch {
			if err := c.writeHeld(); err != nil {
				return 0, err
			}
		}
		if len(p) <= maxBatch {
			c.buf = append(c.buf, p...)
			return len(p), nil
		}
	}
	return c.Conn.Write(p)
}

// Hold keeps what is written until Flush.
func (c *batchConn) Hold() {
	c.mu.Lock()
	c.held = true
	c.mu.Unlock()
}

// Flush sends what was held and stops holding. The connection's write
// deadline is the caller's (wsConn sets it for the flush).
func (c *batchConn) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = false
	if len(c.buf) == 0 {
		return nil
	}
	return c.writeHeld()
}

func (c *batchConn) writeHeld() error {
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > maxBatch {
		c.buf = nil // a burst's buffer is not kept for the quiet times after it
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// batchWriter is the http.ResponseWriter the WebSocket library accepts
// on: its Hijack hands over the connection as a batchConn.
type batchWriter struct {
	http.ResponseWriter
	conn *batchConn
}

// Hijack returns the connection wrapped, with a writer that writes to the
// wrapper (what net/http buffered is flushed before it hands over).
func (w *batchWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &batchConn{Conn: c}
	return w.conn, bufio.NewReadWriter(rw.Reader, bufio.NewWriter(w.conn)), nil
}

// Unwrap gives http.ResponseController the original writer.
func (w *batchWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
