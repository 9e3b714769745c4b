package ctlproto

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"syscall"
	"time"
)

// StreamWriteTimeout bounds the writing of one message of a stream: a
// peer that stops reading is cut off after it rather than left to hold the
// writer (and whatever the stream's owner keeps for it) for ever.
const StreamWriteTimeout = 10 * time.Second

// Stream is a connection that a reply (Response.Stream) has turned into a
// stream of messages both ways: the client's are read as requests,
// without the token (the request that opened the stream carried it) and
// without a command table of their own (the stream's owner decides what
// they mean); the server's are responses. While it streams, a connection
// has no idle timeout and is never evicted: it is in the middle of a
// request. Recv and Send may be called at the same time, from two
// goroutines; Send is safe for concurrent use.
type Stream struct {
	c   *conn
	err error // why the stream never began: every call fails with it

	wmu sync.Mutex
	out []byte
}

// ErrStreamNotOpen is the error of a Stream whose opening reply could not
// be written, or which opened as the server shut down.
var ErrStreamNotOpen = errors.New("ctlproto: the stream did not open")

// Recv returns the client's next message. A message that cannot be read
// (malformed JSON or base64) is a *RequestError and the stream stays
// usable; any other error ends it: io.EOF when the client closed it, an
// os.ErrDeadlineExceeded when the server shuts down.
func (st *Stream) Recv() (*Request, error) {
	if st.err != nil {
		return nil, st.err
	}
	frame, err := st.c.fr.Next()
	if err != nil {
		return nil, err
	}
	return parseRequest(frame)
}

// Send writes one message to the client, within StreamWriteTimeout.
func (st *Stream) Send(resp *Response) error {
	if st.err != nil {
		return st.err
	}
	st.wmu.Lock()
	defer st.wmu.Unlock()
	if cap(st.out) > keepOut {
		st.out = nil
	}
	st.out = AppendResponse(st.out[:0], resp)
	st.c.nc.SetWriteDeadline(time.Now().Add(StreamWriteTimeout))
	_, err := st.c.nc.Write(st.out)
	return err
}

// Close closes the connection at once: a Recv or a Send under way returns.
// The server closes it anyway when the stream's function returns.
func (st *Stream) Close() error { return st.c.nc.Close() }

// StopRecv makes a Recv under way, and every later one, return (with
// os.ErrDeadlineExceeded): the stream's owner has said its last word and
// returns. Unlike Close, it lets the server close the connection so that
// the client still gets to read that last word.
func (st *Stream) StopRecv() {
	st.c.nc.SetReadDeadline(aLongTimeAgo)
}

// Peer is the client's address.
func (st *Stream) Peer() string { return st.c.peer }

// stream writes a reply that opens a stream, then hands the connection to
// its function until it returns, then closes it as goodbye does (serve
// closes it in the end in any case).
func (c *conn) stream(resp *Response) {
	st := &Stream{c: c}
	ctx, cancel := context.WithCancel(c.srv.ctx)
	defer cancel()
	if err := c.reply(resp); err != nil {
		c.srv.logger().Debug("control stream not opened", "peer", c.peer, "err", err)
		st.err = fmt.Errorf("%w: %v", ErrStreamNotOpen, err)
	} else if !c.unarmRead() {
		// Shutting down: no stream now. (Had Shutdown come after, its
		// past read deadline would end Recv.)
		st.err = fmt.Errorf("%w: %v", ErrStreamNotOpen, ErrServerClosed)
	}
	c.srv.logger().Debug("control stream", "peer", c.peer, "kind", resp.Kind, "job", resp.Job)
	c.runStream(ctx, resp.Stream, st)
	if c.srv.leave(c) {
		lingerClose(c.nc) // the client gets to read the stream's last message
	}
}

// runStream runs a stream's function, turning a panic into a log line: a
// bug in one session must not take the daemon down.
func (c *conn) runStream(ctx context.Context, f func(context.Context, *Stream), st *Stream) {
	defer func() {
		if v := recover(); v != nil {
			c.srv.logger().Error("control stream panicked", "peer", c.peer, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	f(ctx, st)
}

// ClientStream is the client's side of a stream that a reply opened (see
// Client.Open). Recv and Send may be called at the same time, from two
// goroutines.
type ClientStream struct {
	nc net.Conn
	fr *FrameReader

	wmu sync.Mutex
	out []byte
}

// Open sends req, whose reply may open a stream (an attach), and returns
// the reply. When the reply is of kind opened, it also returns the stream,
// which the connection belongs to from then on: the Client sends no more
// requests (Close it, or the stream, when done). ctx bounds the wait for
// the reply only.
func (c *Client) Open(ctx context.Context, req *Request, opened Kind) (*Response, *ClientStream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, nil, c.err
	}
	resp, err := c.roundTrip(ctx, req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s to %s: %w", req.Command, c.addr, err)
	}
	if resp.Kind != opened {
		return resp, nil, nil
	}
	c.err = fmt.Errorf("connection to %s carries a stream: it sends no more requests", c.addr)
	c.nc.SetDeadline(time.Time{}) // the stream lasts as long as it lasts
	return resp, &ClientStream{nc: c.nc, fr: c.fr}, nil
}

// Recv returns the server's next message. It returns io.EOF once the
// server has closed the stream.
func (s *ClientStream) Recv() (*Response, error) {
	frame, err := s.fr.Next()
	if err != nil {
		return nil, err
	}
	return DecodeResponse(frame)
}

// Send writes one message to the server, within StreamWriteTimeout.
func (s *ClientStream) Send(req *Request) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.out = AppendRequest(s.out[:0], req)
	s.nc.SetWriteDeadline(time.Now().Add(StreamWriteTimeout))
	_, err := s.nc.Write(s.out)
	return err
}

// Close closes the connection: a Recv under way returns.
func (s *ClientStream) Close() error { return s.nc.Close() }

// WaitClosed waits until the server closes the connection, and returns
// nil then: after a shutdown, taskmasterd closes it just before it exits.
// Whatever the server sends meanwhile is skipped. It returns ctx's error
// if ctx ends first. The connection is of no more use afterwards.
func (c *Client) WaitClosed(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	defer c.watch(ctx)()
	for {
		_, err := c.fr.Next()
		switch {
		case err == nil:
			continue
		case ctx.Err() != nil:
			err = ctx.Err()
		case errors.Is(err, os.ErrDeadlineExceeded):
			err = context.DeadlineExceeded
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
			err = nil
		}
		c.err = fmt.Errorf("connection to %s closed", c.addr)
		return err
	}
}
