package ctlproto

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime/debug"
	"time"
)

// keepOut is the largest reply buffer a connection keeps between replies.
const keepOut = 64 << 10

// conn serves one connection: it reads messages one at a time and answers
// each before reading the next, so pipelined requests are answered in order.
type conn struct {
	srv  *Server
	nc   net.Conn
	peer string
	fr   *FrameReader
	out  []byte
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{
		srv:  s,
		nc:   nc,
		peer: nc.RemoteAddr().String(),
		fr:   NewFrameReader(nc, s.maxMessage()),
	}
}

func (c *conn) serve() {
	defer c.srv.wg.Done()
	defer c.srv.forget(c)
	defer c.nc.Close()
	if why := c.srv.refusedLocalUser(c.nc); why != "" {
		c.reply(Failf("%s", why))
		lingerClose(c.nc)
		return
	}
	// The first message must come soon: a connection that says nothing
	// holds a slot of MaxConns that the owner's own clients may need.
	first := true
	for c.armRead(first) {
		first = false
		frame, err := c.fr.Next()
		if err != nil {
			c.readFailed(err)
			return
		}
		if err := c.reply(c.answer(frame)); err != nil {
			c.srv.logger().Debug("control reply failed", "peer", c.peer, "err", err)
			return
		}
	}
}

// firstMessageTimeout bounds the wait for a connection's first message.
const firstMessageTimeout = 10 * time.Second

// armRead gives the next message IdleTimeout to arrive in full (the first
// one at most firstMessageTimeout), unless the server is stopping. It holds
// the server's lock so that it cannot undo the past deadline Shutdown sets
// to wake idle connections.
func (c *conn) armRead(first bool) bool {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	if c.srv.closing {
		return false
	}
	wait := c.srv.idleTimeout()
	if first {
		wait = min(wait, firstMessageTimeout)
	}
	c.nc.SetReadDeadline(time.Now().Add(wait))
	return true
}

func (c *conn) readFailed(err error) {
	log := c.srv.logger()
	switch {
	case errors.Is(err, ErrMessageTooLarge):
		log.Debug("control message too large", "peer", c.peer, "limit", c.srv.maxMessage())
		c.reply(Failf("message too large (limit %d bytes)", c.srv.maxMessage()))
		lingerClose(c.nc)
	case errors.Is(err, os.ErrDeadlineExceeded):
		if !c.srv.isClosing() {
			log.Debug("control connection idle, closing", "peer", c.peer)
		}
	case errors.Is(err, io.EOF):
	default:
		log.Debug("control read failed", "peer", c.peer, "err", err)
	}
}

// answer turns one message into its reply. Invalid requests and bad tokens
// are answered here and never reach the Handler.
func (c *conn) answer(frame []byte) *Response {
	req, err := parseRequest(frame)
	if err == nil {
		if resp := c.srv.authenticate(req, c.peer); resp != nil {
			return resp
		}
		err = req.Validate()
	}
	if err != nil {
		reason := err.Error()
		var rerr *RequestError
		if errors.As(err, &rerr) {
			reason = rerr.Reason
		}
		c.srv.logger().Debug("invalid control request", "peer", c.peer, "reason", reason)
		return Invalid(reason)
	}
	c.srv.logger().Debug("control request", "peer", c.peer, "command", req.Command, "job", req.Job)
	return c.call(req)
}

// call runs the Handler with a context that also ends if the peer hangs up
// meanwhile, so that a long request (a stop waiting for its stoptime, a
// wait, a tail -f) does not outlive a client that gave up on it. While the
// Handler runs nothing else reads the connection, so a goroutine can watch
// it: a Peek sees the hangup without consuming a pipelined next request.
func (c *conn) call(req *Request) *Response {
	ctx, cancel := context.WithCancel(c.srv.ctx)
	defer cancel()
	if !c.unarmRead() {
		return c.srv.call(ctx, req) // shutting down: ctx is cancelled already
	}
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		_, err := c.fr.r.Peek(1)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			cancel() // EOF or reset: the peer is gone
		}
	}()
	resp := c.srv.call(ctx, req)
	c.nc.SetReadDeadline(aLongTimeAgo) // ends the Peek if it still waits
	<-watched
	return resp
}

// unarmRead lifts the read deadline while a request runs, so that the
// hang-up watch lasts as long as the request however long that is, unless
// the server is stopping (then Shutdown's past deadline must stay).
func (c *conn) unarmRead() bool {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	if c.srv.closing {
		return false
	}
	c.nc.SetReadDeadline(time.Time{})
	return true
}

// call runs the Handler, turning a panic or a nil reply into fail "internal
// error": a bug in one command must not take the daemon down.
func (s *Server) call(ctx context.Context, req *Request) (resp *Response) {
	defer func() {
		if v := recover(); v != nil {
			s.logger().Error("control handler panicked", "command", req.Command,
				"job", req.Job, "panic", v, "stack", string(debug.Stack()))
			resp = Failf("internal error")
		}
	}()
	if resp = s.Handler.ServeCtl(ctx, req); resp == nil {
		s.logger().Error("control handler returned no response", "command", req.Command)
		resp = Failf("internal error")
	}
	return resp
}

func (c *conn) reply(resp *Response) error {
	if cap(c.out) > keepOut {
		c.out = nil
	}
	c.out = AppendResponse(c.out[:0], resp)
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.idleTimeout()))
	_, err := c.nc.Write(c.out)
	return err
}
