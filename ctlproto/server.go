package ctlproto

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Defaults of the Server limits and of the protocol's port.
const (
	DefaultPort        = 7777
	DefaultMaxMessage  = 1 << 20
	DefaultIdleTimeout = 5 * time.Minute
	DefaultAuthTimeout = 10 * time.Second
	DefaultMaxConns    = 64
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("ctlproto: server closed")

// Handler carries out valid requests. It is called from one goroutine per
// connection, so it must be safe for concurrent use. Its context is
// cancelled when the server shuts down, and when the client closes its
// connection before the reply (the request is then abandoned). It never
// sees an invalid request or one with a bad token.
type Handler interface {
	ServeCtl(ctx context.Context, req *Request) *Response
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) *Response

// ServeCtl calls f.
func (f HandlerFunc) ServeCtl(ctx context.Context, req *Request) *Response { return f(ctx, req) }

// Server serves the control protocol. Set its fields before calling Serve
// and do not change them afterwards; zero values mean the defaults.
type Server struct {
	Handler Handler
	// Allow lists the peers that may connect; empty means loopback only
	// (127.0.0.0/8 and ::1). Others are closed at once without a reply.
	Allow []netip.Prefix
	// Token, if set, must come with every request as "token" (a plain
	// string); a request without it, or with another, gets fail and the
	// connection is closed.
	Token string
	// LocalUsers, if not empty, are the uids whose processes may connect
	// from this machine (this network namespace): a local peer whose
	// socket belongs to another user gets fail and is closed. TCP has no
	// peer credentials, so without this any local user, such as a job
	// that runs as nobody, could control a daemon that runs as root.
	// Peers on other machines are left to Allow and Token.
	LocalUsers []uint32
	// MaxMessage bounds a message before its ";;"; a larger one gets fail
	// and the connection is closed.
	MaxMessage int
	// IdleTimeout closes an admitted connection that sends no complete
	// message for this long.
	IdleTimeout time.Duration
	// AuthTimeout closes a connection that is not admitted within this
	// long of its start, whatever it sends meanwhile. A connection is
	// admitted by its first request with the right token when Token is
	// set; otherwise at once when it passed the LocalUsers check, or by
	// its first request that parses.
	AuthTimeout time.Duration
	// MaxConns bounds the open connections. A newcomer beyond it takes the
	// place of the admitted connection that has waited longest for its
	// next request, or else of the connection not yet admitted that came
	// first, which gets fail and is closed; when every connection is busy
	// with a request, the newcomer gets fail and is closed.
	MaxConns int
	// Logger receives refused peers and evictions (Warn), handler panics
	// (Error) and invalid requests (Debug). Nil discards.
	Logger *slog.Logger

	mu        sync.Mutex
	ready     bool
	closing   bool
	ctx       context.Context // parent of every Handler call
	cancel    context.CancelFunc
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{} // leaving ones too, until their goroutine ends
	leaving   int                // of conns, those closing: they no longer count
	checking  int                // LocalUsers checks in progress
	rejecting int
	wg        sync.WaitGroup
	limits    struct{ refused, full, token, user, evict logLimiter }
}

// Serve accepts connections on l and serves each in its own goroutine until
// Shutdown or Close, when it returns ErrServerClosed. It closes l.
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil {
		l.Close()
		return errors.New("ctlproto: Server.Handler is nil")
	}
	if !s.addListener(l) {
		l.Close()
		return ErrServerClosed
	}
	defer s.wg.Done()
	defer s.removeListener(l)
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err == nil {
			backoff = 0
			s.admit(nc)
			continue
		}
		if s.isClosing() {
			return ErrServerClosed
		}
		if errors.Is(err, net.ErrClosed) {
			return err
		}
		// Out of file descriptors, most likely: wait instead of spinning.
		backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
		s.logger().Warn("accept failed", "err", err, "retry_in", backoff)
		if !s.pause(backoff) {
			return ErrServerClosed
		}
	}
}

// Shutdown stops accepting, cancels the Handler context, lets requests in
// flight finish and write their replies, closes every connection and waits
// for all the server's goroutines. If ctx ends first it closes the
// connections by force and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopLocked()
	for c := range s.conns {
		// Wakes connections blocked reading; busy ones stop after their reply.
		c.nc.SetReadDeadline(aLongTimeAgo)
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
		s.Close()
		return ctx.Err()
	}
}

// Close stops the server at once: it closes the listeners and every
// connection without waiting for requests in flight.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
	for c := range s.conns {
		c.nc.Close()
	}
	return nil
}

// aLongTimeAgo is a deadline in the past, which makes blocked I/O return.
var aLongTimeAgo = time.Unix(1, 0)

func (s *Server) stopLocked() {
	s.initLocked()
	s.closing = true
	s.cancel()
	for l := range s.listeners {
		l.Close()
	}
}

func (s *Server) initLocked() {
	if s.ready {
		return
	}
	s.ready = true
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.listeners = make(map[net.Listener]struct{})
	s.conns = make(map[*conn]struct{})
}

// addListener registers l and counts Serve in the wait group, unless the
// server is already stopping. Doing both under mu keeps every wg.Add before
// Shutdown's wg.Wait.
func (s *Server) addListener(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if s.closing {
		return false
	}
	s.listeners[l] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) removeListener(l net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.listeners, l)
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// pause sleeps for d and reports false if the server stopped meanwhile.
func (s *Server) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Server) maxMessage() int { return orDefault(s.MaxMessage, DefaultMaxMessage) }

func (s *Server) maxConns() int { return orDefault(s.MaxConns, DefaultMaxConns) }

func (s *Server) idleTimeout() time.Duration { return orDefault(s.IdleTimeout, DefaultIdleTimeout) }

func (s *Server) authTimeout() time.Duration { return orDefault(s.AuthTimeout, DefaultAuthTimeout) }

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
