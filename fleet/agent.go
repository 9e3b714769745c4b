package fleet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/fleet/fleetpb"
	"github.com/taskmaster/taskmaster/fleet/wire"
	"github.com/taskmaster/taskmaster/jobs"
)

// DefaultPort is the manager's port when -join names only a host.
const DefaultPort = 7790

// Events is where an agent's job states come from: *jobs.Supervisor.
type Events interface {
	Subscribe(buffer int) (*jobs.Subscription, error)
}

// Agent joins a manager and keeps joining it: it connects, says hello,
// runs the manager's commands on Ops, pushes its job states, and, when the
// connection ends, connects again after a backoff. Whatever happens to the
// link, the agent's own jobs are not touched. Set the fields before Run.
type Agent struct {
	Manager string // HOST:PORT of the manager
	ID      string
	Secret  string
	Trust   Trust
	Build   string           // taskmasterd's version, sent in the hello
	Ops     ctlproto.Handler // runs commands, as the control port does
	Events  Events           // the jobs' events, for the states pushed
	// PingInterval, HelloTimeout, WriteTimeout: as the Manager's.
	PingInterval, HelloTimeout, WriteTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait between attempts.
	BackoffMin, BackoffMax time.Duration
	// MaxCommands bounds the commands run at once; more are refused.
	MaxCommands int
	// JobsDir is the agent's jobs directory, where the job files fetched
	// from the manager go (through Ops: push and delete); "" fetches none.
	JobsDir string
	// Logger receives connections, losses and refusals. Nil discards.
	Logger *slog.Logger

	connected atomic.Bool
}

// DefaultMaxCommands bounds the commands an agent runs at once.
const DefaultMaxCommands = 64

// Connected reports whether the agent is connected to its manager now.
func (a *Agent) Connected() bool { return a.connected.Load() }

// Run joins the manager until ctx ends.
func (a *Agent) Run(ctx context.Context) {
	b := &backoff{min: orDefault(a.BackoffMin, DefaultBackoffMin), max: orDefault(a.BackoffMax, DefaultBackoffMax)}
	for {
		joined, err := a.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if joined {
			b.reset()
		}
		wait := b.next()
		a.logger().Warn("fleet: not connected to the manager; trying again", "manager", a.Manager, "err", err, "retry_in", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// session makes one connection and runs it until it ends. joined says
// whether the manager accepted the agent.
func (a *Agent) session(ctx context.Context) (joined bool, err error) {
	c, build, err := a.dial(ctx)
	if err != nil {
		return false, err
	}
	a.connected.Store(true)
	defer a.connected.Store(false)
	a.logger().Info("fleet: joined the manager", "manager", a.Manager, "id", a.ID, "manager_version", build)
	w := newWorker(a, c)
	stop := context.AfterFunc(ctx, func() {
		w.flushStates() // the jobs' last states (a shutdown stopped them) before the bye
		c.bye("the agent is shutting down", ctx.Err())
	})
	defer stop()
	w.wg.Add(2)
	go w.pushStates()
	go w.syncJobs()
	c.startPings()
	err = c.run(w.handle)
	w.stop()
	return true, err
}

// dial connects, checks the manager's certificate, says hello and waits
// for ServerHello, all within HelloTimeout.
func (a *Agent) dial(ctx context.Context) (*conn, string, error) {
	if isLinkURL(a.Manager) {
		return a.dialLink(ctx)
	}
	timeout := orDefault(a.HelloTimeout, DefaultHelloTimeout)
	host, _, err := net.SplitHostPort(a.Manager)
	if err != nil {
		return nil, "", fmt.Errorf("-join %q: %w", a.Manager, err)
	}
	cfg, err := a.Trust.clientConfig(host)
	if err != nil {
		return nil, "", err
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", a.Manager)
	if err != nil {
		return nil, "", err
	}
	deadline, _ := dctx.Deadline()
	nc.SetDeadline(deadline)
	stop := context.AfterFunc(dctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(dctx); err != nil {
		nc.Close()
		return nil, "", fmt.Errorf("TLS with the manager at %s: %w", a.Manager, err)
	}
	r := wire.NewReader(tc)
	c := newConn(&streamTransport{nc: tc, r: r}, orDefault(a.PingInterval, DefaultPingInterval), orDefault(a.WriteTimeout, DefaultWriteTimeout), a.logger())
	if err := c.send(&fleetpb.ClientHello{ClientID: a.ID, Auth: a.Secret, Version: ProtocolVersion, Build: a.Build}); err != nil {
		c.close(err)
		return nil, "", err
	}
	m, err := r.Read()
	if err == nil && m.GetBye() != nil {
		err = &ByeError{Reason: m.GetBye().GetReason()}
	} else if err == nil && m.GetServerHello() == nil {
		err = fmt.Errorf("protocol error: expected ServerHello, got %v", m.GetType())
	}
	if err != nil {
		if (dctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded)) && ctx.Err() == nil {
			err = fmt.Errorf("no ServerHello within %v: %w", timeout, err)
		}
		c.close(err)
		return nil, "", err
	}
	if !stop() {
		c.close(dctx.Err())
		return nil, "", dctx.Err()
	}
	nc.SetDeadline(time.Time{})
	return c, m.GetServerHello().GetBuild(), nil
}

func (a *Agent) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}

// JoinAddress is HOST:PORT for -join HOST or HOST:PORT, or the URL of
// the manager's live link for -join ws://... or wss://...
func JoinAddress(s string) (string, error) {
	if s == "" {
		return "", errors.New("-join: empty address")
	}
	if isLinkURL(s) {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("-join %q: want ws://HOST:PORT/api/socket or wss://...", s)
		}
		return s, nil
	}
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s, nil
	}
	host := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if strings.ContainsAny(host, "[]/ ") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
		return "", fmt.Errorf("-join %q: want HOST or HOST:PORT", s)
	}
	return net.JoinHostPort(host, strconv.Itoa(DefaultPort)), nil
}

// worker is the agent's side of one connection: the commands in flight
// and the job states pushed.
type worker struct {
	a    *Agent
	c    *conn
	ctx  context.Context // ends with the connection
	stop context.CancelFunc

	mu   sync.Mutex
	cmds map[int64]context.CancelFunc
	wg   sync.WaitGroup

	dmu    sync.Mutex
	dnext  int64
	dwait  map[int64]chan *fleetpb.DataResponse
	resync chan struct{} // room for one: JobsChanged coalesce

	flushReq chan chan struct{} // asks pushStates to send what it has now
}

func newWorker(a *Agent, c *conn) *worker {
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{a: a, c: c, ctx: ctx, cmds: make(map[int64]context.CancelFunc),
		dwait: make(map[int64]chan *fleetpb.DataResponse), resync: make(chan struct{}, 1),
		flushReq: make(chan chan struct{})}
	w.stop = func() {
		cancel()
		w.wg.Wait()
	}
	return w
}
