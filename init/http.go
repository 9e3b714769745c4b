package pid1

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/internal/version"
	"github.com/taskmaster/taskmaster/jobs"
	"github.com/taskmaster/taskmaster/link"
	"github.com/taskmaster/taskmaster/metrics"
	"github.com/taskmaster/taskmaster/web"
)

// HTTPConfig configures the HTTP listener: the live link, the dashboard,
// /metrics and /healthz. Its access rules are the control port's: the
// same allowlist and token.
type HTTPConfig struct {
	Listen  string   // TCP address; "" for none
	Origins []string // other origins whose pages may open the live link
}

// httpServer is the running HTTP listener.
type httpServer struct {
	srv  *http.Server
	link *link.Server
	done chan struct{}
}

// startHTTP listens on the HTTP address and serves it.
func (d *daemon) startHTTP() error {
	c, h := d.cfg.Control, d.cfg.HTTP
	if h.Listen == "" {
		return nil
	}
	if err := ctlproto.CheckListen(h.Listen, c.Allow, c.Token); err != nil {
		return fmt.Errorf("-http: %w", err)
	}
	l, err := net.Listen("tcp", h.Listen)
	if err != nil {
		return fmt.Errorf("http server: %w", err)
	}
	ops := d.ops()
	ls := &link.Server{Ops: ops, Events: d.sup, Fleet: d.fleetJobs(), Slaves: d.linkSlaves(), Token: c.Token, BuildVersion: version.Version, Logger: d.log}
	users := localUsers(c.Token)
	ws := &web.Server{
		Link:     ls,
		Status:   func(ctx context.Context) ([]jobs.JobStatus, error) { return d.sup.Status(ctx, "") },
		Stopping: d.shutting.Load,
		Metrics:  metricsHandler(d, ls),
		Token:    c.Token,
		Origins:  h.Origins,
		Admit:    func(nc net.Conn) string { return ctlproto.LocalUserRefusal(nc, users) },
		Logger:   d.log,
	}
	al := newAllowListener(l, effectiveAllow(c, h.Listen), maxHTTPConns)
	d.http = &httpServer{
		srv: &http.Server{
			Handler:           ws.Handler(),
			ConnContext:       web.ConnContext,
			ConnState:         al.connState,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          nil,
		},
		link: ls,
		done: make(chan struct{}),
	}
	d.log.Info("http server listening", "addr", l.Addr().String(), "dashboard", "http://"+l.Addr().String()+"/", "token", c.Token != "")
	go func() {
		defer close(d.http.done)
		err := d.http.srv.Serve(al)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// stopHTTP tells live link clients that taskmasterd is shutting down and
// closes the HTTP listener.
func (d *daemon) stopHTTP() {
	if d.http == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = d.http.link.Shutdown(ctx)
	_ = d.http.srv.Shutdown(ctx)
	<-d.http.done
}

// maxHTTPConns bounds the HTTP listener's open connections: dashboards,
// link clients, scrapers and probes together.
const maxHTTPConns = 256

// allowListener closes connections from peers outside the allowlist at
// once, before a byte is read, as the control port does, and bounds the
// open connections to max. When all are taken, a newcomer takes the place
// of the connection that has waited longest for a request (one that has
// not said who it is first: no request yet, or a live link whose client
// has not registered; then one idle between requests), as on the control
// port: otherwise peers that connect and say nothing (any local user, a
// job as nobody; the user check comes with the first request, the token
// with register_control) would keep every slot, one timeout after the
// other, and /healthz with them. With none waiting (every connection busy,
// or a registered live link), the newcomer is closed: accepting and
// closing, rather than not accepting, keeps the backlog from filling with
// peers that wait.
type allowListener struct {
	net.Listener
	allow []netip.Prefix
	max   int

	mu    sync.Mutex
	conns map[*countedConn]struct{}
}

func newAllowListener(l net.Listener, allow []netip.Prefix, max int) *allowListener {
	return &allowListener{Listener: l, allow: allow, max: max, conns: make(map[*countedConn]struct{})}
}

func (l *allowListener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if !ctlproto.PeerAllowed(l.allow, nc.RemoteAddr()) {
			nc.Close()
			continue
		}
		if c := l.enter(nc); c != nil {
			return c, nil
		}
		nc.Close()
	}
}

// enter gives nc a slot, evicting a waiting connection if need be, or
// returns nil when there is no room.
func (l *allowListener) enter(nc net.Conn) *countedConn {
	l.mu.Lock()
	var victim *countedConn
	if len(l.conns) >= l.max {
		if victim = l.victimLocked(); victim == nil {
			l.mu.Unlock()
			return nil
		}
		delete(l.conns, victim)
	}
	c := &countedConn{Conn: nc, l: l, state: http.StateNew, since: time.Now()}
	l.conns[c] = struct{}{}
	l.mu.Unlock()
	if victim != nil {
		victim.Conn.Close() // its server goroutine sees the error and ends
	}
	return c
}

// victimLocked is the connection that has waited longest for a request:
// one that has sent none yet before one idle between requests.
func (l *allowListener) victimLocked() *countedConn {
	var victim *countedConn
	for c := range l.conns {
		if !c.unknown() && c.state != http.StateIdle {
			continue // busy, or a live link client that has registered
		}
		if victim == nil || evictsBefore(c, victim) {
			victim = c
		}
	}
	return victim
}

// evictsBefore reports whether waiting connection a goes before b.
func evictsBefore(a, b *countedConn) bool {
	if a.unknown() != b.unknown() {
		return a.unknown()
	}
	return a.since.Before(b.since)
}

// connState is for http.Server.ConnState: it keeps what each connection
// is doing, for victimLocked.
func (l *allowListener) connState(nc net.Conn, state http.ConnState) {
	c, ok := nc.(*countedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c.state, c.since = state, time.Now()
}

// open returns how many connections hold a slot.
func (l *allowListener) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// countedConn gives its slot back when closed.
type countedConn struct {
	net.Conn
	l          *allowListener
	state      http.ConnState // guarded by l.mu
	since      time.Time      // when it entered state; guarded by l.mu
	registered bool           // a live link client that has registered; guarded by l.mu
}

// unknown reports whether c has not said who it is yet: no request, or a
// live link (hijacked) whose client has not registered. l.mu is held.
func (c *countedConn) unknown() bool {
	return c.state == http.StateNew || (c.state == http.StateHijacked && !c.registered)
}

// LinkRegistered records that c's live link client has registered: it
// keeps its slot from now on (web.LinkRegistrar).
func (c *countedConn) LinkRegistered() {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	c.registered = true
}

func (c *countedConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

func metricsHandler(d *daemon, ls *link.Server) http.Handler {
	return metrics.Handler(metrics.Sources{
		Supervisor: d.sup,
		Reaped:     func() (uint64, uint64) { return d.reaper.Reaped(), d.reaper.Orphans() },
		Connections: func() map[string]int {
			conns := map[string]int{"link": ls.Active()}
			if d.ctl != nil {
				conns["control"] = d.ctl.srv.Conns()
			}
			return conns
		},
		Version: version.Version,
	})
}
