package fleet

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/fleet/fleetpb"
	"github.com/taskmaster/taskmaster/fleet/wire"
)

const webJob = `{"cmd":"/bin/web","numprocs":2,"autostart":true,"starttime":0}`

func TestAgentJoinsAndPushesItsJobs(t *testing.T) {
	m := startManager(t, rule("web-*", "s3cret"))
	w := newWorld(t, map[string]string{"nginx": webJob})
	a := runAgent(t, m.newAgent("web-1", "s3cret", w))

	info := m.untilState(t, "web-1", StateConnected)
	assert.Equal(t, "test-agent", info.Version)
	assert.Contains(t, info.Address, "127.0.0.1:")
	r := &Router{Local: newWorld(t, nil).ops, Manager: m.Manager}
	m.until(t, "web-1's jobs", func() bool { return m.jobState(t, r, "web-1/nginx") == "RUNNING" })

	st := m.status(t, r)
	require.Len(t, st, 1)
	assert.Equal(t, "web-1", st[0].Agent)
	assert.Equal(t, "web-1/nginx", st[0].Name)
	assert.Equal(t, []string{"web-1/nginx:0", "web-1/nginx:1"}, []string{st[0].Processes[0].Name, st[0].Processes[1].Name})
	assert.True(t, a.Connected())
	line := logged(t, m.log, "fleet: agent joined", "agent=web-1")
	assert.Contains(t, line, "version=test-agent")

	// A change on the agent reaches the manager without being asked for.
	require.NoError(t, w.sup.Stop(context.Background(), "nginx"))
	m.until(t, "nginx stopped", func() bool { return m.jobState(t, r, "web-1/nginx") == "STOPPED" })
}

// status is the router's status of every job.
func (m *testManager) status(t *testing.T, r *Router) []AgentJobStatus {
	t.Helper()
	resp := r.ServeCtl(context.Background(), &ctlproto.Request{Command: ctlproto.CmdStatus})
	require.Equal(t, ctlproto.KindStatus, resp.Kind, resp.Error)
	var all struct{ Jobs []AgentJobStatus }
	require.NoError(t, json.Unmarshal(resp.Data, &all), "%s", resp.Data)
	return all.Jobs
}

func (m *testManager) jobState(t *testing.T, r *Router, name string) string {
	for _, j := range m.status(t, r) {
		if j.Name == name {
			return j.State
		}
	}
	return ""
}

func TestRefusals(t *testing.T) {
	m := startManager(t,
		rule("web-*", "s3cret"),
		rule("db", "dbsecret", "10.9.0.0/16"), // never from loopback
	)
	tests := []struct {
		name, id, secret, bye, log string
	}{
		{"wrong secret", "web-1", "guess", "authentication failed", "unknown agent id or wrong secret"},
		{"unknown id", "mail", "s3cret", "authentication failed", "unknown agent id or wrong secret"},
		{"bad id", "../x", "s3cret", "agent id", "agent id"},
		{"address not allowed", "db", "dbsecret", "address not allowed: 127.0.0.1 is outside the allowed_ips of \"db\"", "address not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := m.newAgent(tt.id, tt.secret, nil)
			_, _, err := a.dial(context.Background())
			var bye *ByeError
			require.ErrorAs(t, err, &bye)
			assert.Contains(t, bye.Reason, tt.bye)
			logged(t, m.log, "fleet: agent refused", tt.log)
		})
	}
	assert.Empty(t, m.Agents(), "a refused agent is not listed")
}

func TestUntrustedCertificateIsRefused(t *testing.T) {
	m := startManager(t, rule("a", "s"))
	other := startManager(t, rule("a", "s"))
	a := m.newAgent("a", "s", nil)
	a.Trust = Trust{Fingerprint: other.fp}
	_, _, err := a.dial(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not the pinned "+other.fp)
	logged(t, m.log, "TLS handshake failed")

	// A CA that did not sign it.
	a.Trust = Trust{CAFile: other.dir + "/" + CertFile}
	_, _, err = a.dial(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate signed by unknown authority")

	// Its own certificate as the CA: the name 127.0.0.1 is in it.
	a.Trust = Trust{CAFile: m.dir + "/" + CertFile}
	c, _, err := a.dial(context.Background())
	require.NoError(t, err)
	c.close(nil)
}

func TestBrokenFramesGetTheOriginalsBye(t *testing.T) {
	m := startManager(t, rule("a", "s"))
	tests := []struct {
		name   string
		send   []byte
		reason string
	}{
		{"too big", binary.BigEndian.AppendUint32(nil, wire.MaxMessage+1), wire.ReasonTooBig},
		{"garbage", append(binary.BigEndian.AppendUint32(nil, 3), 0xff, 0xff, 0xff), wire.ReasonInvalid},
		{"not a hello", mustFrame(t, &fleetpb.Ping{Data: 1}), "expected ClientHello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := m.rawTLS(t)
			_, err := c.Write(tt.send)
			require.NoError(t, err)
			msg, err := wire.NewReader(c).Read()
			require.NoError(t, err)
			assert.Contains(t, msg.GetBye().GetReason(), tt.reason)
			_, err = wire.NewReader(c).Read()
			assert.ErrorIs(t, err, io.EOF, "closed after the bye")
		})
	}
	// And after the hello too: the connection is dropped, the agent lost.
	c := m.rawTLS(t)
	hello(t, c, "a", "s")
	_, err := c.Write(binary.BigEndian.AppendUint32(nil, 1<<30))
	require.NoError(t, err)
	msg, err := wire.NewReader(c).Read()
	require.NoError(t, err)
	assert.Equal(t, wire.ReasonTooBig, msg.GetBye().GetReason())
	info := m.untilState(t, "a", StateLost)
	assert.Contains(t, info.Reason, "message too big")
}

func mustFrame(t *testing.T, p any) []byte {
	b, err := wire.Append(nil, wire.New(p))
	require.NoError(t, err)
	return b
}

// hello says hello on a raw connection and reads the ServerHello.
func hello(t *testing.T, c net.Conn, id, secret string) {
	t.Helper()
	_, err := c.Write(mustFrame(t, &fleetpb.ClientHello{ClientID: id, Auth: secret}))
	require.NoError(t, err)
	msg, err := wire.NewReader(c).Read()
	require.NoError(t, err)
	require.NotNil(t, msg.GetServerHello(), "%v", msg)
	assert.Equal(t, uint32(ProtocolVersion), msg.GetServerHello().GetVersion())
}

func TestAgentNamesAnHTTPServer(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	a := &Agent{Manager: srv.Listener.Addr().String(), ID: "a", Secret: "s", Trust: Trust{Insecure: true}, HelloTimeout: wait}
	_, _, err := a.dial(context.Background())
	require.ErrorIs(t, err, wire.ErrHTTP)
}

func TestAgentGivesUpWaitingForServerHello(t *testing.T) {
	// A TLS server that never answers the hello.
	m := startManager(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			tc := tlsServer(nc, m)
			go func() { io.Copy(io.Discard, tc) }()
		}
	}()
	a := m.newAgent("a", "s", nil)
	a.Manager = l.Addr().String()
	a.HelloTimeout = 100 * time.Millisecond
	_, _, err = a.dial(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no ServerHello within 100ms")
}

func tlsServer(nc net.Conn, m *testManager) net.Conn {
	return tlsServerConn(nc, m.Certificate)
}

func TestPongTimeoutMakesTheAgentLost(t *testing.T) {
	m := startManager(t, rule("deaf", "s"))
	m.PingInterval = 100 * time.Millisecond // before any agent: read when it joins
	c := m.rawTLS(t)
	hello(t, c, "deaf", "s")
	m.untilState(t, "deaf", StateConnected)
	// The peer reads the ping but never answers it.
	r := wire.NewReader(c)
	msg, err := r.Read()
	require.NoError(t, err)
	require.NotNil(t, msg.GetPing())
	info := m.untilState(t, "deaf", StateLost)
	assert.Equal(t, ErrPongTimeout.Error(), info.Reason)
	logged(t, m.log, "fleet: agent lost", "agent=deaf", "no pong in time")
}

func TestAgentAnswersPingsAndMeasuresRTT(t *testing.T) {
	m := startManager(t, rule("a", "s"))
	m.PingInterval = 50 * time.Millisecond
	runAgent(t, m.newAgent("a", "s", nil))
	m.untilState(t, "a", StateConnected)
	// A few pings answered: still connected, and a round-trip time known.
	deadline := time.Now().Add(wait)
	for {
		info, _ := m.agent("a")
		require.Equal(t, StateConnected, info.State)
		if info.RTTMillis > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "no RTT")
		<-time.After(10 * time.Millisecond)
	}
}

func TestAgentReconnectsAndIsReplaced(t *testing.T) {
	dir := t.TempDir()
	m := startManagerAt(t, "127.0.0.1:0", dir, rule("a", "s"))
	w := newWorld(t, map[string]string{"nginx": webJob})
	a := runAgent(t, m.newAgent("a", "s", w))
	m.untilState(t, "a", StateConnected)

	// The manager goes away and comes back on the same address, with the
	// same certificate (its state directory): the agent joins it again.
	addr := m.addr
	require.NoError(t, m.Close())
	m2 := startManagerAt(t, addr, dir, rule("a", "s"))
	m2.untilState(t, "a", StateConnected)
	r := &Router{Local: newWorld(t, nil).ops, Manager: m2.Manager}
	m2.until(t, "the jobs again", func() bool { return m2.jobState(t, r, "a/nginx") == "RUNNING" })
	logged(t, a.log, "fleet: not connected to the manager; trying again")

	// A second connection under the same id replaces the first.
	c := m2.rawTLS(t)
	hello(t, c, "a", "s")
	logged(t, m2.log, "fleet: agent reconnected", "agent=a")
	msg, err := wire.NewReader(c).Read()
	if err == nil {
		t.Logf("raw connection got %v", msg.GetType()) // a ping, maybe
	}
}

func TestLostAgentCommandsFail(t *testing.T) {
	m := startManager(t, rule("a", "s"))
	block := make(chan struct{})
	started := make(chan struct{}, 1)
	a := m.newAgent("a", "s", nil)
	a.Ops = ctlproto.HandlerFunc(func(ctx context.Context, req *ctlproto.Request) *ctlproto.Response {
		started <- struct{}{}
		select {
		case <-block:
		case <-ctx.Done(): // the agent stops: its commands are cancelled
		}
		return ctlproto.Success()
	})
	ta := runAgent(t, a)
	logged(t, ta.log, "fleet: joined the manager")
	// The agent logs its joining before the manager has the link in its
	// table: a command routed in between found no agent "a".
	m.untilState(t, "a", StateConnected)
	r := &Router{Local: newWorld(t, nil).ops, Manager: m.Manager}

	// In flight when the link drops: FAILED with the reason.
	res := make(chan *ctlproto.Response, 1)
	go func() {
		res <- r.ServeCtl(context.Background(), &ctlproto.Request{Command: ctlproto.CmdStop, Job: "a/web"})
	}()
	select {
	case <-started:
	case resp := <-res:
		t.Fatalf("answered before the agent ran it: %+v", resp)
	}
	ta.stop()
	close(block)
	resp := <-res
	assert.Equal(t, ctlproto.KindFail, resp.Kind)
	assert.Contains(t, resp.Error, `the connection to agent "a" was lost: the peer said bye: the agent is shutting down`)

	// Lost: fails at once, saying so.
	m.untilState(t, "a", StateLost)
	resp = r.ServeCtl(context.Background(), &ctlproto.Request{Command: ctlproto.CmdStart, Job: "a/web"})
	assert.Equal(t, ctlproto.KindFail, resp.Kind)
	assert.Contains(t, resp.Error, `agent "a" is lost since`)
	resp = r.ServeCtl(context.Background(), &ctlproto.Request{Command: ctlproto.CmdStart, Job: "nobody/web"})
	assert.Contains(t, resp.Error, `no such agent: "nobody"`)
}

func TestGoneAfterGrace(t *testing.T) {
	m := startManager(t, rule("a", "s"))
	m.GoneAfter = 50 * time.Millisecond
	w := newWorld(t, map[string]string{"nginx": webJob})
	ta := runAgent(t, m.newAgent("a", "s", w))
	r := &Router{Local: newWorld(t, nil).ops, Manager: m.Manager}
	m.until(t, "jobs", func() bool { return m.jobState(t, r, "a/nginx") == "RUNNING" })
	ta.stop()
	m.untilState(t, "a", StateLost)
	st := m.status(t, r)
	require.Len(t, st, 1, "a lost agent's jobs are listed")
	assert.Equal(t, StateLost, st[0].AgentState)
	aj := m.AgentJobs()
	require.Len(t, aj, 1)
	assert.Equal(t, "a/nginx", aj[0].Name)
	assert.Equal(t, "agent lost (the peer said bye: the agent is shutting down): last known state", aj[0].Processes[0].Detail)
	m.untilState(t, "a", StateGone)
	assert.Empty(t, m.AgentJobs())
	assert.Empty(t, m.status(t, r), "a gone agent's jobs are not")
}

func TestCommandsRunOnTheControlHandler(t *testing.T) {
	m := startManager(t, rule("a", "s"))
	w := newWorld(t, map[string]string{"nginx": webJob})
	runAgent(t, m.newAgent("a", "s", w))
	m.untilState(t, "a", StateConnected)
	r := &Router{Local: newWorld(t, nil).ops, Manager: m.Manager}
	do := func(cmd ctlproto.Command, job string, data string) *ctlproto.Response {
		return r.ServeCtl(context.Background(), &ctlproto.Request{Command: cmd, Job: job, Data: []byte(data)})
	}
	assert.Equal(t, ctlproto.KindRedundant, do(ctlproto.CmdStart, "a/nginx", "").Kind)
	assert.Equal(t, ctlproto.KindSuccess, do(ctlproto.CmdStop, "a/nginx:1", "").Kind)
	resp := do(ctlproto.CmdStatus, "a/nginx", "")
	require.Equal(t, ctlproto.KindStatus, resp.Kind)
	var one AgentJobStatus
	require.NoError(t, json.Unmarshal(resp.Data, &one))
	assert.Equal(t, "a/nginx", one.Name)
	assert.Equal(t, "STOPPED", one.Processes[1].State)

	resp = do(ctlproto.CmdPull, "a/nginx", "")
	require.Equal(t, ctlproto.KindFile, resp.Kind)
	assert.Equal(t, "a/nginx", resp.Job)
	assert.Equal(t, webJob, string(resp.Data))

	resp = do(ctlproto.CmdPush, "a/cron", `{"cmd":"/bin/cron","autostart":false}`)
	require.Equal(t, ctlproto.KindSuccess, resp.Kind, resp.Error)
	resp = do(ctlproto.CmdList, "", "")
	names, err := ctlproto.DecodeJobList(resp.Data)
	require.NoError(t, err)
	m.until(t, "cron listed", func() bool {
		names, _ = ctlproto.DecodeJobList(do(ctlproto.CmdList, "", "").Data)
		return strings.Contains(strings.Join(names, ","), "a/cron")
	})
	assert.Equal(t, []string{"a/cron", "a/nginx"}, names[len(names)-2:])

	resp = do(ctlproto.CmdStart, "a/nope", "")
	assert.Equal(t, ctlproto.KindFail, resp.Kind)
	assert.Contains(t, resp.Error, "no such job")
	resp = do(ctlproto.CmdTail, "a/nginx:0", "")
	require.Equal(t, ctlproto.KindFile, resp.Kind, resp.Error)
	assert.Contains(t, string(resp.Data), `"output":`)
	resp = do(ctlproto.CmdStart, "a/", "")
	assert.Contains(t, resp.Error, "want AGENT/JOB")

	resp = do(ctlproto.CmdAgents, "", "")
	require.Equal(t, ctlproto.KindStatus, resp.Kind)
	var agents struct{ Agents []AgentInfo }
	require.NoError(t, json.Unmarshal(resp.Data, &agents))
	require.Len(t, agents.Agents, 1)
	assert.Equal(t, 2, agents.Agents[0].Jobs)
}

func TestCancelReachesTheAgent(t *testing.T) {
	m := startManager(t, rule("a", "s"))
	cancelled := make(chan error, 1)
	started := make(chan struct{})
	a := m.newAgent("a", "s", nil)
	a.Ops = ctlproto.HandlerFunc(func(ctx context.Context, req *ctlproto.Request) *ctlproto.Response {
		close(started)
		<-ctx.Done()
		cancelled <- ctx.Err()
		return ctlproto.Fail(ctx.Err())
	})
	runAgent(t, a)
	m.untilState(t, "a", StateConnected)
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, err := m.Do(ctx, "a", &ctlproto.Request{Command: ctlproto.CmdWait, Job: "x", Data: []byte(`{}`)}, nil)
		res <- err
	}()
	<-started
	cancel()
	assert.ErrorIs(t, <-cancelled, context.Canceled)
	assert.ErrorIs(t, <-res, context.Canceled)
}

func TestLargeOutputIsSplitNotCut(t *testing.T) {
	m := startManager(t, rule("a", "s"))
	big := "x" + strings.Repeat("é", 100_000) + "end" // 200 kB, a rune across every cut
	a := m.newAgent("a", "s", nil)
	a.Ops = ctlproto.HandlerFunc(func(ctx context.Context, req *ctlproto.Request) *ctlproto.Response {
		return ctlproto.Status([]byte(big))
	})
	runAgent(t, a)
	m.untilState(t, "a", StateConnected)
	resp, err := m.Do(context.Background(), "a", &ctlproto.Request{Command: ctlproto.CmdStatus, Job: "x"}, nil)
	require.NoError(t, err)
	assert.Equal(t, big, string(resp.Data))
}

func TestTooLargeRequestIsRefusedClearly(t *testing.T) {
	m := startManager(t, rule("a", "s"))
	runAgent(t, m.newAgent("a", "s", nil))
	m.untilState(t, "a", StateConnected)
	_, err := m.Do(context.Background(), "a", &ctlproto.Request{Command: ctlproto.CmdPush, Job: "x", Data: make([]byte, 100_000)}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "too large for the fleet link")
	info, _ := m.agent("a")
	assert.Equal(t, StateConnected, info.State, "the link is fine")
}

func TestManyInstancesGoInPieces(t *testing.T) {
	m := startManager(t, rule("a", "s"))
	w := newWorld(t, map[string]string{"many": `{"cmd":"/bin/x","numprocs":1024,"autostart":true,"starttime":0}`})
	runAgent(t, m.newAgent("a", "s", w))
	r := &Router{Local: newWorld(t, nil).ops, Manager: m.Manager}
	m.until(t, "1024 instances", func() bool {
		st := m.status(t, r)
		return len(st) == 1 && len(st[0].Processes) == 1024 && st[0].State == "RUNNING"
	})
	resp := w.ops.ServeCtl(context.Background(), &ctlproto.Request{Command: ctlproto.CmdStatus, Job: "many"})
	require.Greater(t, len(resp.Data), wire.MaxMessage, "the test needs a status larger than a message")
}

func TestAgentShutdownSaysBye(t *testing.T) {
	m := startManager(t, rule("a", "s"))
	ta := runAgent(t, m.newAgent("a", "s", nil))
	logged(t, ta.log, "fleet: joined the manager")
	ta.stop()
	info := m.untilState(t, "a", StateLost)
	assert.Equal(t, "the peer said bye: the agent is shutting down", info.Reason, "agent log:\n%s\nmanager log:\n%s", ta.log, m.log)
	assert.False(t, ta.Connected())
}

func TestProgressOfMultiInstanceCommands(t *testing.T) {
	m := startManager(t, rule("a", "s"))
	w := newWorld(t, map[string]string{"many": `{"cmd":"/bin/x","numprocs":3,"autostart":false,"starttime":0}`, "one": webJob})
	runAgent(t, m.newAgent("a", "s", w))
	m.untilState(t, "a", StateConnected)
	for _, cmd := range []ctlproto.Command{ctlproto.CmdStart, ctlproto.CmdStop} {
		var got []string
		resp, err := m.Do(context.Background(), "a", &ctlproto.Request{Command: cmd, Job: "many"}, func(cur, total uint32) {
			got = append(got, fmt.Sprintf("%d/%d", cur, total))
		})
		require.NoError(t, err)
		assert.Equal(t, ctlproto.KindSuccess, resp.Kind, resp.Error)
		assert.Equal(t, []string{"1/3", "2/3", "3/3"}, got, "%s: every instance, before the result", cmd)
	}
	var got []string
	_, err := m.Do(context.Background(), "a", &ctlproto.Request{Command: ctlproto.CmdStop, Job: "many:1"}, func(cur, total uint32) {
		got = append(got, "x")
	})
	require.NoError(t, err)
	assert.Empty(t, got, "one instance: no progress")
}

// An agent that shuts down sends its jobs' last states before its bye: a
// shutdown stops the jobs first, and the manager must not keep them as
// running.
func TestLastStatesBeforeBye(t *testing.T) {
	m := startManager(t, rule("a", "s"))
	w := newWorld(t, map[string]string{"nginx": webJob})
	ta := runAgent(t, m.newAgent("a", "s", w))
	r := &Router{Local: newWorld(t, nil).ops, Manager: m.Manager}
	m.until(t, "running", func() bool { return m.jobState(t, r, "a/nginx") == "RUNNING" })
	for range 20 { // the stop and the bye race without the flush; give the race chances
		require.NoError(t, w.sup.Stop(context.Background(), "nginx"))
		ta.stop()
		m.untilState(t, "a", StateLost)
		assert.Equal(t, "STOPPED", m.jobState(t, r, "a/nginx"))
		require.NoError(t, w.sup.Start(context.Background(), "nginx"))
		ta = runAgent(t, ta.Agent)
		m.until(t, "running", func() bool {
			info, _ := m.agent("a")
			return info.State == StateConnected && m.jobState(t, r, "a/nginx") == "RUNNING"
		})
	}
}

// A newcomer that never says a word does not hold up the manager's Close.
func TestCloseDoesNotWaitForSilentNewcomers(t *testing.T) {
	m := startManager(t, rule("a", "s"))
	nc, err := net.Dial("tcp", m.addr)
	require.NoError(t, err)
	defer nc.Close()
	// The manager has taken it in (it answers the TLS hello of another).
	c := m.rawTLS(t)
	c.Close()
	closed := make(chan struct{})
	go func() { m.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(wait / 2): // HelloTimeout is wait
		t.Fatal("Close waits for a silent newcomer's hello timeout")
	}
}

// An agent that reports nonsense is dropped with a Bye that says why, and
// nothing of it is kept.
func TestBadJobStateDropsTheAgent(t *testing.T) {
	m := startManager(t, rule("a", "s"))
	for name, js := range map[string]*fleetpb.JobState{
		"bad name":   {Jobs: []*fleetpb.JobStatus{{Name: "x/y", Status: "{}"}}},
		"bad status": {Jobs: []*fleetpb.JobStatus{{Name: "x", Status: "not json"}}},
		"wrong name": {Jobs: []*fleetpb.JobStatus{{Name: "x", Status: `{"name":"y"}`}}},
	} {
		t.Run(name, func(t *testing.T) {
			c := m.rawTLS(t)
			hello(t, c, "a", "s")
			_, err := c.Write(mustFrame(t, js))
			require.NoError(t, err)
			r := wire.NewReader(c)
			for {
				msg, err := r.Read()
				require.NoError(t, err)
				if bye := msg.GetBye(); bye != nil {
					assert.Contains(t, bye.GetReason(), "protocol error")
					break
				}
			}
			info := m.untilState(t, "a", StateLost)
			assert.Contains(t, info.Reason, "protocol error")
			assert.Zero(t, info.Jobs)
		})
	}
}
