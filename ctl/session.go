package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// session is one command being run: its options, its streams and its
// connection, dialled at the first request and closed at the end.
type session struct {
	ctx   context.Context // ends when the user interrupts the command
	opts  options
	in    io.Reader
	out   io.Writer
	errw  io.Writer
	now   func() time.Time
	color bool
	// interactive: stdin is a terminal, with a person at it who can be
	// asked (shutdown's confirmation)
	interactive bool
	client      *ctlproto.Client
}

func (r *runner) newSession(ctx context.Context, opts options) *session {
	return &session{
		ctx:   ctx,
		opts:  opts,
		in:    r.env.Stdin,
		out:   r.env.Stdout,
		errw:  r.env.Stderr,
		now:   r.env.Now,
		color: r.useColor(),

		interactive: r.env.IsTerminal(r.env.Stdin),
	}
}

// useColor: only for a person at a terminal who has not opted out
// (https://no-color.org), never in a pipe or a file.
func (r *runner) useColor() bool {
	return r.env.IsTerminal(r.env.Stdout) && r.env.Getenv("NO_COLOR") == "" && r.env.Getenv("TERM") != "dumb"
}

func (s *session) close() {
	if s.client != nil {
		s.client.Close()
		s.client = nil
	}
}

// do sends one request and returns the daemon's reply. wait is how long the
// daemon may legitimately take on top of the -timeout (a wait or a long
// poll). The error is a *netError, or errInterrupted.
func (s *session) do(cmd ctlproto.Command, job string, data []byte, wait time.Duration) (*ctlproto.Response, error) {
	if s.client == nil {
		if err := s.dial(); err != nil {
			return nil, err
		}
	}
	ctx, cancel := s.bound(wait)
	defer cancel()
	resp, err := s.client.Do(ctx, &ctlproto.Request{Command: cmd, Job: job, Data: data})
	if err != nil {
		s.close() // out of step with the daemon: the next request dials again
		return nil, s.netError(err, false)
	}
	return resp, nil
}

func (s *session) dial() error {
	ctx, cancel := s.bound(0)
	defer cancel()
	c, err := ctlproto.Dial(ctx, s.opts.addr, s.opts.token)
	if err != nil {
		return s.netError(err, true)
	}
	s.client = c
	return nil
}

// bound applies -timeout, plus extra, to the session's context.
func (s *session) bound(extra time.Duration) (context.Context, context.CancelFunc) {
	if s.opts.timeout <= 0 {
		return context.WithCancel(s.ctx)
	}
	return context.WithTimeout(s.ctx, s.opts.timeout+extra)
}

// errInterrupted is the error of a request that the user interrupted.
var errInterrupted = errors.New("interrupted")

// netError is a failure to reach the daemon or to get its reply.
type netError struct {
	addr    string
	dialing bool
	err     error
}

func (s *session) netError(err error, dialing bool) error {
	if s.ctx.Err() != nil {
		return errInterrupted
	}
	return &netError{addr: withDefaultPort(s.opts.addr), dialing: dialing, err: err}
}

// Error is one line: what failed, where, and the system's reason without
// the layers of wrapping that repeat the address.
func (e *netError) Error() string {
	switch {
	case e.dialing:
		return fmt.Sprintf("cannot connect to taskmasterd at %s: %s", e.addr, reason(e.err))
	case errors.Is(e.err, context.DeadlineExceeded):
		return fmt.Sprintf("no reply from taskmasterd at %s in time (see -timeout)", e.addr)
	}
	return fmt.Sprintf("lost connection to taskmasterd at %s: %s", e.addr, reason(e.err))
}

// Unwrap returns the underlying error, for errors.Is.
func (e *netError) Unwrap() error { return e.err }

// reason digs the system's words out of a dial or I/O error: "connection
// refused" rather than "connect to taskmasterd at a: dial tcp a: connect:
// connection refused".
func reason(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		err = op.Err
	}
	var sys *os.SyscallError
	if errors.As(err, &sys) {
		err = sys.Err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "taskmasterd closed the connection"
	}
	return err.Error()
}

// failed reports an error from do and returns its exit code.
func (s *session) failed(err error) int {
	if errors.Is(err, errInterrupted) {
		// On a line of its own: the terminal has just echoed ^C.
		fmt.Fprintf(s.errw, "\ntaskmasterctl: %v\n", err)
		return ExitInterrupted
	}
	fmt.Fprintf(s.errw, "taskmasterctl: %v\n", err)
	return ExitUnreachable
}

// withDefaultPort is what ctlproto.Dial dials, for the error message.
func withDefaultPort(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(strings.Trim(addr, "[]"), strconv.Itoa(ctlproto.DefaultPort))
}
