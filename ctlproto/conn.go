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

	// Guarded by srv.mu; admitted is written by the conn's own goroutine
	// only, which may read it without the lock.
	admitted  bool      // vouched for, by the LocalUsers check, the token or a first request
	admitBy   time.Time // when a connection not admitted yet is closed
	reading   bool      // waiting for a message: no request is in progress
	idleSince time.Time // when it started waiting
	evicted   bool      // closed to make room for a newcomer
	leaving   bool      // closing: no longer counted against MaxConns
}

// newConn returns a connection waiting for its first message: it may be
// evicted before its goroutine has even begun to read.
func newConn(s *Server, nc net.Conn, admitted bool) *conn {
	now := time.Now()
	return &conn{
		srv:       s,
		nc:        nc,
		peer:      nc.RemoteAddr().String(),
		fr:        NewFrameReader(nc, s.maxMessage()),
		admitted:  admitted,
		admitBy:   now.Add(s.authTimeout()),
		reading:   true,
		idleSince: now,
	}
}

func (c *conn) serve() {
	defer c.srv.wg.Done()
	defer c.srv.forget(c)
	defer c.nc.Close()
	for c.armRead() {
		frame, err := c.fr.Next()
		if err != nil {
			c.readFailed(err)
			return
		}
		if !c.startRequest() {
			c.sayEvicted()
			return
		}
		resp, keep := c.answer(frame)
		if !keep {
			c.goodbye(resp)
			return
		}
		if resp.Stream != nil {
			c.stream(resp)
			return
		}
		if err := c.reply(resp); err != nil {
			c.srv.logger().Debug("control reply failed", "peer", c.peer, "err", err)
			return
		}
	}
	if c.wasEvicted() { // before its first read
		c.sayEvicted()
	}
}

// goodbye sends the last reply of a connection the server ends, and
// closes it. From the start it no longer holds a slot of MaxConns.
func (c *conn) goodbye(resp *Response) {
	linger := c.srv.leave(c)
	c.write(resp, time.Now().Add(lingerTime))
	if linger {
		lingerClose(c.nc)
	}
}

// armRead gives the next message IdleTimeout to arrive in full, unless the
// server is stopping or the connection was evicted. A connection not yet
// admitted keeps the deadline of its start, AuthTimeout later, however
// many messages it sends: otherwise a peer without the token could hold a
// slot by sending garbage. armRead holds the server's lock so that it
// cannot undo the past deadline Shutdown or an eviction sets.
func (c *conn) armRead() bool {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	if c.srv.closing || c.leaving {
		return false
	}
	now := time.Now()
	deadline := now.Add(c.srv.idleTimeout())
	if !c.admitted && c.admitBy.Before(deadline) {
		deadline = c.admitBy
	}
	c.nc.SetReadDeadline(deadline)
	c.reading, c.idleSince = true, now
	return true
}

// startRequest ends the wait for a message, so that the request cannot be
// evicted, and reports false if it was evicted before it could start.
func (c *conn) startRequest() bool {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	c.reading = false
	return !c.evicted
}

// evictable reports whether c may make room for a newcomer: waiting for
// its next message (for a connection not admitted, its first one that
// admits it). The caller holds srv.mu.
func (c *conn) evictable() bool { return c.reading && !c.leaving }

// markAdmitted records that c has been vouched for: from now on it waits
// IdleTimeout for each message, and may be evicted while it waits.
func (c *conn) markAdmitted() {
	if c.admitted {
		return
	}
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	c.admitted = true
}

// evictedReason is the fail reply of an evicted connection.
const evictedReason = "evicted: too many connections"

// sayEvicted tells the peer of an evicted connection why it goes, then
// closes it. Any request it had sent meanwhile was not carried out.
func (c *conn) sayEvicted() {
	c.srv.logger().Debug("control connection evicted", "peer", c.peer)
	c.goodbye(Failf("%s", evictedReason))
}

func (c *conn) readFailed(err error) {
	log := c.srv.logger()
	switch {
	case errors.Is(err, ErrMessageTooLarge):
		log.Debug("control message too large", "peer", c.peer, "limit", c.srv.maxMessage())
		c.goodbye(Failf("message too large (limit %d bytes)", c.srv.maxMessage()))
	case errors.Is(err, os.ErrDeadlineExceeded):
		switch {
		case c.wasEvicted():
			c.sayEvicted()
		case c.srv.isClosing():
		case !c.admitted:
			log.Debug("control connection not admitted in time, closing", "peer", c.peer,
				"limit", c.srv.authTimeout())
		default:
			log.Debug("control connection idle, closing", "peer", c.peer)
		}
	case errors.Is(err, io.EOF):
	default:
		log.Debug("control read failed", "peer", c.peer, "err", err)
	}
}

func (c *conn) wasEvicted() bool {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	return c.evicted
}

// answer turns one message into its reply, and says whether the connection
// goes on after it. Invalid requests and bad tokens are answered here and
// never reach the Handler; a bad or missing token also ends the connection.
func (c *conn) answer(frame []byte) (resp *Response, keep bool) {
	req, err := parseRequest(frame)
	if err != nil {
		return c.invalid(err), true
	}
	if resp := c.srv.authenticate(req, c.peer); resp != nil {
		return resp, false
	}
	c.markAdmitted()
	if err := req.Validate(); err != nil {
		return c.invalid(err), true
	}
	c.srv.logger().Debug("control request", "peer", c.peer, "command", req.Command, "job", req.Job)
	return c.call(req), true
}

func (c *conn) invalid(err error) *Response {
	reason := err.Error()
	var rerr *RequestError
	if errors.As(err, &rerr) {
		reason = rerr.Reason
	}
	c.srv.logger().Debug("invalid control request", "peer", c.peer, "reason", reason)
	return Invalid(reason)
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
	return c.write(resp, c.writeDeadline())
}

func (c *conn) write(resp *Response, deadline time.Time) error {
	if cap(c.out) > keepOut {
		c.out = nil
	}
	c.out = AppendResponse(c.out[:0], resp)
	c.nc.SetWriteDeadline(deadline)
	_, err := c.nc.Write(c.out)
	return err
}

// writeDeadline bounds the writing of a reply: IdleTimeout, but for a
// connection not admitted yet no later than AuthTimeout from its start, so
// that a peer that pipelines requests and never reads the replies cannot
// outlast AuthTimeout blocked in a write.
func (c *conn) writeDeadline() time.Time {
	deadline := time.Now().Add(c.srv.idleTimeout())
	if !c.admitted && c.admitBy.Before(deadline) {
		return c.admitBy
	}
	return deadline
}
