package fleet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/control"
	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/jobs"
	"github.com/taskmaster/taskmaster/jobs/jobstest"
)

// wait bounds every wait of the tests: long, as a busy machine needs, and
// never reached when things work (waits are on events, not on the clock).
const wait = 10 * time.Second

// logBuffer collects log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func sum(secret string) string {
	s := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(s[:])
}

// rule lets id (a glob) with secret join from loopback.
func rule(id, secret string, allowed ...string) AgentRule {
	if len(allowed) == 0 {
		allowed = []string{"127.0.0.0/8", "::1"}
	}
	return AgentRule{ID: id, SecretSHA256: sum(secret), AllowedIPs: allowed}
}

// testManager is a manager on loopback.
type testManager struct {
	*Manager
	addr string
	fp   string
	log  *logBuffer
	dir  string
}

func startManager(t *testing.T, rules ...AgentRule) *testManager {
	t.Helper()
	dir := t.TempDir()
	return startManagerAt(t, "127.0.0.1:0", dir, rules...)
}

func startManagerAt(t *testing.T, addr, dir string, rules ...AgentRule) *testManager {
	t.Helper()
	return startManagerWith(t, addr, dir, func(*Manager) {}, rules...)
}

// startManagerWith is startManagerAt with set changing the manager's
// fields before it serves.
func startManagerWith(t *testing.T, addr, dir string, set func(*Manager), rules ...AgentRule) *testManager {
	t.Helper()
	for i := range rules {
		require.NoError(t, rules[i].check())
	}
	cert, err := ManagerCertificate("", "", dir, nil)
	require.NoError(t, err)
	lb := &logBuffer{}
	m := &Manager{
		Rules: rules, Certificate: cert, Build: "test-manager", Logger: lb.logger(),
		PingInterval: time.Hour, HelloTimeout: wait, WriteTimeout: wait,
	}
	set(m)
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { m.Serve(l); close(done) }()
	t.Cleanup(func() { m.Close(); <-done })
	return &testManager{Manager: m, addr: l.Addr().String(), fp: Fingerprint(cert.Leaf.Raw), log: lb, dir: dir}
}

// until waits, on the manager's change notifications, for cond.
func (m *testManager) until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		ch := m.Changed()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("manager: no %s within %v; agents: %+v\nlog:\n%s", what, wait, m.Agents(), m.log)
		}
	}
}

func (m *testManager) agent(id string) (AgentInfo, bool) {
	for _, a := range m.Agents() {
		if a.ID == id {
			return a, true
		}
	}
	return AgentInfo{}, false
}

func (m *testManager) untilState(t *testing.T, id, state string) AgentInfo {
	t.Helper()
	var got AgentInfo
	m.until(t, id+" "+state, func() bool {
		a, ok := m.agent(id)
		got = a
		return ok && a.State == state
	})
	return got
}

// world is a supervisor on fake processes and its control handler: what
// an agent's taskmasterd has.
type world struct {
	dir string
	sup *jobs.Supervisor
	ops *control.Handler
}

func newWorld(t *testing.T, jobFiles map[string]string) *world {
	t.Helper()
	dir, sup := jobstest.Supervisor(t, jobFiles)
	return &world{dir: dir, sup: sup, ops: control.New(sup, dir)}
}

// testAgent is an agent running in the background.
type testAgent struct {
	*Agent
	log    *logBuffer
	cancel context.CancelFunc
	done   chan struct{}
}

func (m *testManager) newAgent(id, secret string, w *world) *Agent {
	a := &Agent{
		Manager: m.addr, ID: id, Secret: secret, Trust: Trust{Fingerprint: m.fp}, Build: "test-agent",
		PingInterval: time.Hour, HelloTimeout: wait, WriteTimeout: wait,
		BackoffMin: time.Millisecond, BackoffMax: 20 * time.Millisecond,
	}
	if w != nil {
		a.Ops, a.Events = w.ops, w.sup
	} else {
		a.Ops = ctlproto.HandlerFunc(func(context.Context, *ctlproto.Request) *ctlproto.Response { return ctlproto.Success() })
	}
	return a
}

func runAgent(t *testing.T, a *Agent) *testAgent {
	t.Helper()
	lb := &logBuffer{}
	a.Logger = lb.logger()
	ctx, cancel := context.WithCancel(context.Background())
	ta := &testAgent{Agent: a, log: lb, cancel: cancel, done: make(chan struct{})}
	go func() { a.Run(ctx); close(ta.done) }()
	t.Cleanup(ta.stop)
	return ta
}

func (ta *testAgent) stop() {
	ta.cancel()
	<-ta.done
}

// rawTLS is a hand-driven TLS connection to the manager, trusting it by
// fingerprint: the test plays a misbehaving peer.
func (m *testManager) rawTLS(t *testing.T) *tls.Conn {
	t.Helper()
	cfg, err := Trust{Fingerprint: m.fp}.clientConfig("127.0.0.1")
	require.NoError(t, err)
	c, err := tls.Dial("tcp", m.addr, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(wait))
	return c
}

// logged waits for a line of the log that contains every word.
func logged(t *testing.T, lb *logBuffer, words ...string) string {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		for _, line := range strings.Split(lb.String(), "\n") {
			ok := true
			for _, w := range words {
				ok = ok && strings.Contains(line, w)
			}
			if ok {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q in:\n%s", words, lb)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
