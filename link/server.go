package link

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/jobs"
)

// Conn is one message-oriented connection, such as a WebSocket. Read and
// Write may be called at the same time (from two goroutines), but neither
// from two at once.
type Conn interface {
	// Read returns the next message. A message larger than the
	// transport's limit is an error wrapping ErrTooLarge.
	Read(ctx context.Context) ([]byte, error)
	// Write sends one message. It must not keep msg after it returns: the
	// caller reuses it.
	Write(ctx context.Context, msg []byte) error
	// Close ends the connection.
	Close() error
}

// Batcher is a Conn that can send several messages in one write: after
// Hold, what Write sends is kept until Flush. The session holds while more
// messages wait, so that a burst of events costs a client one write
// rather than one per event; the first message of a burst is not held.
type Batcher interface {
	Hold()
	Flush(ctx context.Context) error
}

// ErrTooLarge is the error of a Read whose message is over the limit.
var ErrTooLarge = errors.New("message too large")

// Source is where a session's events come from: *jobs.Supervisor.
type Source interface {
	Subscribe(buffer int) (*jobs.Subscription, error)
}

// Defaults of the Server's limits.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultMaxInFlight      = 16
	DefaultMaxFollowed      = 64
)

// Server serves the link on connections handed to Serve. Set its fields
// before the first Serve and do not change them afterwards.
type Server struct {
	Ops    ctlproto.Handler // carries out requests, as the control protocol does
	Events Source           // the jobs' events
	// Fleet, on a fleet manager, are its agents' jobs, listed and reported
	// beside Events' (fleet.go); nil elsewhere.
	Fleet FleetJobs
	// Slaves, on a fleet manager, takes the agents that join with
	// register_slave (slave.go); nil elsewhere: register_slave is refused.
	Slaves Slaves
	// Token, if set, must come in register_control.
	Token string
	// BuildVersion is taskmasterd's version, sent in hello.
	BuildVersion string
	// HandshakeTimeout bounds the wait for register_control.
	HandshakeTimeout time.Duration
	// WriteTimeout bounds the sending of one message: a client that does
	// not take it in that time is too slow and is dropped.
	WriteTimeout time.Duration
	// EventBuffer is how many events a client may fall behind by before
	// it is dropped as too slow (jobs.DefaultEventBuffer if zero).
	EventBuffer int
	// MaxInFlight bounds the requests of one connection carried out at
	// once; further ones wait to be read.
	MaxInFlight int
	// MaxFollowed bounds the instances whose output one connection
	// follows.
	MaxFollowed int
	// Logger receives refused handshakes and dropped clients. Nil discards.
	Logger *slog.Logger

	events eventCache // the latest events, encoded once for every session

	mu       sync.Mutex
	sessions map[*session]struct{}
	closing  bool
	wg       sync.WaitGroup
	active   atomic.Int64
}

// Active returns how many registered clients are connected.
func (s *Server) Active() int { return int(s.active.Load()) }

// Serve speaks the link on c until the connection ends, and closes c.
func (s *Server) Serve(ctx context.Context, c Conn) {
	defer c.Close()
	ss := s.newSession(ctx, c)
	if ss == nil {
		writeClose(ctx, c, 1, "taskmasterd is shutting down")
		return
	}
	defer s.forget(ss)
	ss.run()
}

// Shutdown tells every connected client that taskmasterd is shutting down
// (close with that reason), ends every session, and waits for them, or
// until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ss := range s.sessions {
		ss.closeWith("taskmasterd is shutting down")
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for ss := range s.sessions {
			ss.cancel()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}

func (s *Server) newSession(ctx context.Context, c Conn) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil
	}
	if s.sessions == nil {
		s.sessions = make(map[*session]struct{})
	}
	ss := newSession(ctx, s, c)
	s.sessions[ss] = struct{}{}
	s.wg.Add(1)
	return ss
}

func (s *Server) forget(ss *session) {
	s.mu.Lock()
	delete(s.sessions, ss)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// sameToken compares in constant time; hashing first hides the length.
func sameToken(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}
