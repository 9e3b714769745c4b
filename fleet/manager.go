package fleet

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/taskmaster/taskmaster/fleet/fleetpb"
	"github.com/taskmaster/taskmaster/fleet/wire"
)

// ProtocolVersion is the version of the fleet protocol this side speaks,
// sent in ServerHello (and, as an extension, in ClientHello).
const ProtocolVersion = 1

// Defaults of the Manager's limits.
const (
	DefaultGoneAfter     = 5 * time.Minute
	DefaultMaxAgents     = 4096
	DefaultMaxHandshakes = 64
)

// The states of an agent, as the manager lists it.
const (
	StateConnected = "connected" // its connection is up
	StateLost      = "lost"      // its connection dropped (or its pongs stopped); it may come back
	StateGone      = "gone"      // lost for longer than GoneAfter: its jobs are no longer listed
)

// Manager accepts agents on a TLS listener and keeps what it knows of
// them. Set its fields before Serve and do not change them afterwards.
type Manager struct {
	Rules       Rules           // who may join
	Certificate tls.Certificate // the manager's TLS certificate
	Build       string          // taskmasterd's version, sent in ServerHello
	// PingInterval is the time between pings; a pong is due within half
	// of it. DefaultPingInterval if zero.
	PingInterval time.Duration
	// HelloTimeout bounds the TLS handshake and ClientHello of a newcomer.
	HelloTimeout time.Duration
	// WriteTimeout bounds the sending of one message.
	WriteTimeout time.Duration
	// GoneAfter is how long a lost agent is listed as lost before it is
	// gone and its jobs are forgotten.
	GoneAfter time.Duration
	// MaxAgents bounds the agents connected at once; MaxHandshakes the
	// newcomers not yet through their hello.
	MaxAgents, MaxHandshakes int
	// Files are the job files agents fetch (-fleet-jobs); nil for none.
	Files *JobFiles
	// Logger receives joins, losses and refusals. Nil discards.
	Logger *slog.Logger

	mu        sync.Mutex
	ready     bool
	closing   bool
	agents    map[string]*agentRecord
	connected int
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	pending   map[net.Conn]time.Time // newcomers in their handshake, and when they came
	changed   chan struct{}          // closed at the next change, then replaced
	jobsCache []byte                 // AppendJobs's output until the next change; nil when stale
	jobsCount int                    // the jobs in jobsCache
	wg        sync.WaitGroup
}

// agentRecord is what the manager knows of one agent; guarded by
// Manager.mu.
type agentRecord struct {
	id        string
	addr      string
	state     string
	since     time.Time // when it entered state
	connected time.Time // when its current (or last) connection began
	build     string
	reason    string // why it was lost
	sess      *session
	jobs      map[string]*agentJob
	size      int // the bytes of the jobs' entries (maxAgentState)
	goneTimer *time.Timer
}

// AgentInfo is one agent as the agents command lists it.
type AgentInfo struct {
	ID        string    `json:"id"`
	Address   string    `json:"address"`
	State     string    `json:"state"` // connected, lost, gone
	Since     time.Time `json:"since"` // when it entered State
	Connected time.Time `json:"connected_since"`
	RTTMillis float64   `json:"rtt_ms"` // of the last ping; 0 before the first pong
	Version   string    `json:"version"`
	Reason    string    `json:"reason,omitempty"` // why it was lost
	Jobs      int       `json:"jobs"`
	Running   int       `json:"running"` // jobs whose every instance runs
	Unhealthy int       `json:"unhealthy"`
}

func (m *Manager) initLocked() {
	if m.ready {
		return
	}
	m.ready = true
	m.agents = make(map[string]*agentRecord)
	m.listeners = make(map[net.Listener]struct{})
	m.conns = make(map[*conn]struct{})
	m.pending = make(map[net.Conn]time.Time)
	m.changed = make(chan struct{})
}

// Changed returns a channel that is closed at the next change of an
// agent's state or jobs: wait on it, then call Agents or Jobs again.
func (m *Manager) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	return m.changed
}

// changedLocked wakes whoever waits on Changed.
func (m *Manager) changedLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
	m.jobsCache, m.jobsCount = nil, 0
}

// Serve accepts agents on l until Close. It closes l.
func (m *Manager) Serve(l net.Listener) error {
	m.mu.Lock()
	m.initLocked()
	if m.closing {
		m.mu.Unlock()
		l.Close()
		return net.ErrClosed
	}
	m.listeners[l] = struct{}{}
	m.wg.Add(1)
	m.mu.Unlock()
	defer m.wg.Done()
	cfg := &tls.Config{Certificates: []tls.Certificate{m.Certificate}, MinVersion: tls.VersionTLS12}
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if m.isClosing() || errors.Is(err, net.ErrClosed) {
				return net.ErrClosed
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			m.logger().Warn("fleet: accept failed", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		m.admit(nc, cfg)
	}
}

// admit starts the handshake of a newcomer, unless its address is no
// rule's. When MaxHandshakes are under way, the one that began first is
// closed to make room: a handshake of an agent takes milliseconds, and
// otherwise peers from an allowed address that connect and say nothing
// (a container of the same network, without a secret) would keep every
// agent out, one HelloTimeout after the other.
func (m *Manager) admit(nc net.Conn, cfg *tls.Config) {
	addr := addrOf(nc.RemoteAddr())
	if !m.Rules.AnyAllows(addr) {
		m.logger().Warn("fleet: connection refused: no rule of -fleet-agents allows its address", "addr", nc.RemoteAddr().String())
		nc.Close()
		return
	}
	m.mu.Lock()
	if m.closing {
		m.mu.Unlock()
		nc.Close()
		return
	}
	var victim net.Conn
	if len(m.pending) >= orDefault(m.MaxHandshakes, DefaultMaxHandshakes) {
		victim = m.oldestPendingLocked()
		delete(m.pending, victim)
	}
	m.wg.Add(1)
	m.pending[nc] = time.Now() // Close closes it: a newcomer that says nothing holds up no shutdown
	m.mu.Unlock()
	if victim != nil {
		m.logger().Warn("fleet: too many handshakes under way: closing the oldest", "addr", victim.RemoteAddr().String(),
			"limit", orDefault(m.MaxHandshakes, DefaultMaxHandshakes))
		victim.Close()
	}
	go func() {
		defer m.wg.Done()
		m.serveAgent(nc, cfg)
	}()
}

// oldestPendingLocked is the newcomer whose handshake began first.
func (m *Manager) oldestPendingLocked() net.Conn {
	var oldest net.Conn
	var since time.Time
	for nc, t := range m.pending {
		if oldest == nil || t.Before(since) {
			oldest, since = nc, t
		}
	}
	return oldest
}

// serveAgent runs one agent's connection, from its handshake to its end.
func (m *Manager) serveAgent(nc net.Conn, cfg *tls.Config) {
	c, hello, err := m.handshake(nc, cfg)
	m.mu.Lock()
	_, kept := m.pending[nc]
	delete(m.pending, nc)
	m.mu.Unlock()
	if err == nil && !kept { // closed to make room just as it got through
		err = net.ErrClosed
		c.close(err)
	}
	if err != nil {
		return
	}
	m.serveJoined(c, hello.GetClientID(), hello.GetBuild(), nc.RemoteAddr().String())
}

// serveJoined records an accepted agent and runs its connection to the end.
func (m *Manager) serveJoined(c *conn, id, build, addr string) {
	rec, sess := m.join(c, id, build, addr)
	if sess == nil {
		return
	}
	c.startPings()
	err := c.run(sess.handle)
	sess.ended(err)
	m.leave(rec, sess, err)
}

// handshake runs TLS and the hello of a newcomer, within HelloTimeout. It
// logs and closes a refused peer.
func (m *Manager) handshake(nc net.Conn, cfg *tls.Config) (*conn, *fleetpb.ClientHello, error) {
	log := m.logger().With("addr", nc.RemoteAddr().String())
	nc.SetDeadline(time.Now().Add(orDefault(m.HelloTimeout, DefaultHelloTimeout)))
	tc := tls.Server(nc, cfg)
	if err := tc.Handshake(); err != nil {
		log.Warn("fleet: agent refused: TLS handshake failed", "err", err)
		nc.Close()
		return nil, nil, err
	}
	r := wire.NewReader(tc)
	c := newConn(&streamTransport{nc: tc, r: r}, orDefault(m.PingInterval, DefaultPingInterval), orDefault(m.WriteTimeout, DefaultWriteTimeout), m.logger())
	msg, err := r.Read()
	var hello *fleetpb.ClientHello
	switch {
	case errors.Is(err, wire.ErrTooBig):
		log.Warn("fleet: agent refused: its hello is too big", "err", err)
		c.bye(wire.ReasonTooBig, err)
		return nil, nil, err
	case errors.Is(err, wire.ErrInvalid), errors.Is(err, wire.ErrUnknown), errors.Is(err, wire.ErrHTTP):
		log.Warn("fleet: agent refused: invalid hello", "err", err)
		c.bye(wire.ReasonInvalid, err)
		return nil, nil, err
	case err != nil:
		log.Warn("fleet: agent refused: no hello", "err", err)
		c.close(err)
		return nil, nil, err
	}
	if hello = msg.GetClientHello(); hello == nil {
		err := fmt.Errorf("protocol error: expected ClientHello, got %v", msg.GetType())
		log.Warn("fleet: agent refused", "err", err)
		c.bye(err.Error(), err)
		return nil, nil, err
	}
	if err := m.authenticate(hello.GetClientID(), hello.GetAuth(), addrOf(nc.RemoteAddr())); err != nil {
		log.Warn("fleet: agent refused", "agent", hello.GetClientID(), "err", err)
		reason := err.Error()
		if errors.Is(err, ErrAuth) {
			reason = ErrAuth.Error() // the peer is not told whether the id or the secret was wrong
		}
		c.bye(reason, err)
		return nil, nil, err
	}
	if err := c.send(&fleetpb.ServerHello{Version: ProtocolVersion, Build: m.Build}); err != nil {
		log.Warn("fleet: agent lost during its hello", "agent", hello.GetClientID(), "err", err)
		return nil, nil, err
	}
	nc.SetDeadline(time.Time{})
	return c, hello, nil
}

func (m *Manager) authenticate(id, secret string, addr netip.Addr) error {
	if err := ValidID(id); err != nil {
		return err
	}
	_, err := m.Rules.Authenticate(id, secret, addr)
	if errors.Is(err, ErrAuth) {
		return fmt.Errorf("%w: unknown agent id or wrong secret", ErrAuth)
	}
	return err
}

// join records a newcomer as connected. An agent of the same id still
// connected is replaced: it is most likely the same container, restarted
// before its old connection was noticed dead.
func (m *Manager) join(c *conn, id, build, addr string) (*agentRecord, *session) {
	m.mu.Lock()
	if m.closing {
		m.mu.Unlock()
		c.bye("the manager is shutting down", errClosed)
		return nil, nil
	}
	rec := m.agents[id]
	var old *session
	if rec != nil && rec.sess != nil {
		old = rec.sess
	} else if m.connected >= orDefault(m.MaxAgents, DefaultMaxAgents) {
		m.mu.Unlock()
		m.logger().Warn("fleet: agent refused: too many agents connected", "agent", id, "addr", addr)
		c.bye("too many agents connected", errClosed)
		return nil, nil
	}
	if rec == nil {
		m.makeRoomLocked()
		rec = &agentRecord{id: id, jobs: make(map[string]*agentJob)}
		m.agents[id] = rec
	}
	if rec.goneTimer != nil {
		rec.goneTimer.Stop()
		rec.goneTimer = nil
	}
	if old == nil {
		m.connected++
	}
	sess := newSession(m, rec, c)
	now := time.Now()
	rec.addr, rec.state, rec.since, rec.connected = addr, StateConnected, now, now
	rec.build, rec.reason, rec.sess = build, "", sess
	m.conns[c] = struct{}{}
	m.changedLocked()
	m.mu.Unlock()
	if old != nil {
		m.logger().Info("fleet: agent reconnected; its old connection is closed", "agent", id, "addr", addr)
		old.c.bye("replaced by a new connection of the same agent", errReplaced)
	} else {
		m.logger().Info("fleet: agent joined", "agent", id, "addr", addr, "version", build)
	}
	return rec, sess
}

var errReplaced = errors.New("replaced by a new connection of the same agent")

// makeRoomLocked forgets the agent gone longest, or else lost longest,
// when MaxAgents agents are known: agents that come and go under ever new
// ids (replicas over months, or a peer with a stolen secret of a glob
// rule) must not fill the manager's memory with their records and their
// last job states. The caller is about to add one; connected agents are
// fewer than MaxAgents, so there is one to forget.
func (m *Manager) makeRoomLocked() {
	if len(m.agents) < orDefault(m.MaxAgents, DefaultMaxAgents) {
		return
	}
	var victim *agentRecord
	for _, rec := range m.agents {
		if rec.sess != nil {
			continue
		}
		if victim == nil || older(rec, victim) {
			victim = rec
		}
	}
	if victim == nil {
		return
	}
	if victim.goneTimer != nil {
		victim.goneTimer.Stop()
	}
	delete(m.agents, victim.id)
	m.changedLocked()
	m.logger().Info("fleet: agent forgotten: too many agents known", "agent", victim.id,
		"state", victim.state, "since", victim.since.UTC(), "limit", orDefault(m.MaxAgents, DefaultMaxAgents))
}

// older reports whether a is to be forgotten before b: gone before lost,
// then the one in its state for longest.
func older(a, b *agentRecord) bool {
	if (a.state == StateGone) != (b.state == StateGone) {
		return a.state == StateGone
	}
	return a.since.Before(b.since)
}

// leave records that an agent's connection ended: it is lost, and gone
// after GoneAfter unless it comes back.
func (m *Manager) leave(rec *agentRecord, sess *session, why error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.conns, sess.c)
	if rec.sess != sess {
		return // replaced: the record is the new connection's
	}
	m.connected--
	rec.sess = nil
	if m.closing {
		return
	}
	if why == nil {
		why = errClosed
	}
	rec.state, rec.since, rec.reason = StateLost, time.Now(), why.Error()
	rec.goneTimer = time.AfterFunc(orDefault(m.GoneAfter, DefaultGoneAfter), func() { m.gone(rec) })
	m.changedLocked()
	m.logger().Warn("fleet: agent lost", "agent", rec.id, "addr", rec.addr, "reason", why)
}

// gone forgets a lost agent's jobs.
func (m *Manager) gone(rec *agentRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rec.state != StateLost || rec.sess != nil {
		return
	}
	rec.state, rec.since, rec.goneTimer = StateGone, time.Now(), nil
	rec.jobs, rec.size = make(map[string]*agentJob), 0
	m.changedLocked()
	m.logger().Info("fleet: agent gone", "agent", rec.id, "lost_for", orDefault(m.GoneAfter, DefaultGoneAfter))
}

// JobFilesChanged tells every connected agent to fetch its job files
// again (JobsChanged); -fleet-jobs's watcher calls it.
func (m *Manager) JobFilesChanged() {
	m.mu.Lock()
	conns := make([]*conn, 0, len(m.conns))
	for c := range m.conns {
		conns = append(conns, c)
	}
	m.mu.Unlock()
	for _, c := range conns {
		go func() { _ = c.send(&fleetpb.JobsChanged{}) }() // a stuck agent holds up no other
	}
}

// Agents lists every agent the manager has seen since it started, by id.
func (m *Manager) Agents() []AgentInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	out := make([]AgentInfo, 0, len(m.agents))
	for _, rec := range m.agents {
		info := AgentInfo{
			ID: rec.id, Address: rec.addr, State: rec.state, Since: rec.since.UTC(),
			Connected: rec.connected.UTC(), Version: rec.build, Reason: rec.reason, Jobs: len(rec.jobs),
		}
		if rec.sess != nil {
			info.RTTMillis = float64(rec.sess.c.RTT().Microseconds()) / 1000
		}
		for _, j := range rec.jobs {
			if j.status.State == "RUNNING" {
				info.Running++
			}
			if !j.status.Healthy || j.status.Error != "" {
				info.Unhealthy++
			}
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Close stops accepting, says bye to every agent and waits for their
// connections to end.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.initLocked()
	m.closing = true
	for l := range m.listeners {
		l.Close()
	}
	conns := make([]*conn, 0, len(m.conns))
	for c := range m.conns {
		conns = append(conns, c)
	}
	for _, rec := range m.agents {
		if rec.goneTimer != nil {
			rec.goneTimer.Stop()
		}
	}
	for nc := range m.pending {
		nc.Close()
	}
	m.mu.Unlock()
	for _, c := range conns {
		c.bye("the manager is shutting down", errClosed)
	}
	m.wg.Wait()
	return nil
}

func (m *Manager) isClosing() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closing
}

func (m *Manager) logger() *slog.Logger {
	if m.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Logger
}

// addrOf is the IP address of a TCP peer.
func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
