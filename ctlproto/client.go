package ctlproto

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// maxReply bounds one reply read by a Client.
const maxReply = 16 << 20

// Client is one connection to taskmasterd. Requests are sent one at a time
// and each waits for its reply; it is safe for concurrent use. After a
// transport error or a cancelled request the connection is out of step with
// the server and every later request fails: dial again.
type Client struct {
	addr  string
	token string

	mu  sync.Mutex
	nc  net.Conn
	fr  *FrameReader
	out []byte
	err error // why the connection became unusable
}

// Dial connects to taskmasterd at addr ("host:port"; a bare host gets port
// 7777). A non-empty token is sent with every request.
func Dial(ctx context.Context, addr, token string) (*Client, error) {
	addr = withDefaultPort(addr)
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to taskmasterd at %s: %w", addr, err)
	}
	return NewClient(nc, token), nil
}

// NewClient speaks the protocol over an established connection, such as a
// Unix socket.
func NewClient(nc net.Conn, token string) *Client {
	return &Client{
		addr:  nc.RemoteAddr().String(),
		token: token,
		nc:    nc,
		fr:    NewFrameReader(nc, maxReply),
	}
}

func withDefaultPort(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(strings.Trim(addr, "[]"), strconv.Itoa(DefaultPort))
}

// Do sends req and returns the reply. The client's token is added unless
// req carries its own. Do gives up when ctx ends; the error then wraps
// ctx.Err(). A fail or invalid reply is a Response, not an error.
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, c.err
	}
	resp, err := c.roundTrip(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s to %s: %w", req.Command, c.addr, err)
	}
	return resp, nil
}

func (c *Client) roundTrip(ctx context.Context, req *Request) (*Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	defer c.watch(ctx)()
	r := *req
	if r.Token == "" {
		r.Token = c.token
	}
	c.out = AppendRequest(c.out[:0], &r)
	if _, err := c.nc.Write(c.out); err != nil {
		return nil, c.broken(ctx, err)
	}
	frame, err := c.fr.Next()
	if err != nil {
		return nil, c.broken(ctx, err)
	}
	// A malformed reply is still a whole message: the stream stays in step.
	return DecodeResponse(frame)
}

// watch applies ctx's deadline and cancellation to the connection until the
// returned function is called. That function waits for a cancellation
// already under way, so that it cannot spoil the next request's deadline.
func (c *Client) watch(ctx context.Context) func() {
	deadline, _ := ctx.Deadline() // zero when none: no deadline
	c.nc.SetDeadline(deadline)
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.nc.SetDeadline(aLongTimeAgo)
		close(fired)
	})
	return func() {
		if !stop() {
			<-fired
		}
	}
}

// broken records that the connection is unusable and returns the error to
// report, preferring the context's own error over the timeout it caused.
func (c *Client) broken(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		err = cerr
	} else if _, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) {
		err = context.DeadlineExceeded
	}
	c.err = fmt.Errorf("connection to %s unusable after an earlier error: %w", c.addr, err)
	return err
}

// Close closes the connection.
func (c *Client) Close() error { return c.nc.Close() }
