package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/fleet/fleetpb"
	"github.com/taskmaster/taskmaster/fleet/wire"
)

// fleetSecret is the benchmark agents' secret.
const fleetSecret = "bench-secret"

// fleet measures the fleet link (docs/fleet.md): one manager taskmasterd
// and N lightweight agents, the benchmark's own goroutines speaking the
// real wire (TLS, framed protobuf): the handshake rate, the manager's
// memory per idle agent, the round trip of a fleet-wide status, and a
// command fanned out to every agent until every result is in.
func (b *bench) fleet(ctx context.Context) (string, error) {
	n := b.fleetAgents
	progress("fleet: manager with %d agents", n)
	m, fleetAddr, err := b.startManager(ctx)
	if err != nil {
		return "", err
	}
	defer m.stop()
	if err := sleep(ctx, 500*time.Millisecond); err != nil {
		return "", err
	}
	rssBefore, _, _ := memory(m.pid)

	t0 := time.Now()
	agents, err := dialAgents(ctx, fleetAddr, n)
	joined := time.Since(t0)
	defer func() {
		for _, a := range agents {
			a.close()
		}
	}()
	if err != nil {
		return "", err
	}
	ctl, err := ctlproto.Dial(ctx, m.addr, "")
	if err != nil {
		return "", err
	}
	defer ctl.Close()
	if err := awaitFleet(ctx, ctl, n); err != nil {
		return "", err
	}
	if err := sleep(ctx, time.Second); err != nil { // the handshakes' garbage collected
		return "", err
	}
	rssWith, _, _ := memory(m.pid)
	perAgent := float64(rssWith-min(rssBefore, rssWith)) / float64(n)

	status, err := timeStatus(ctx, ctl, b.fleetStatusRuns, 2*n)
	if err != nil {
		return "", err
	}
	fan, err := fanOut(ctx, m.addr, agents)
	if err != nil {
		return "", err
	}

	var sb strings.Builder
	fmt.Fprintf(&sb, "## 12. Fleet\n\n")
	fmt.Fprintf(&sb, "One manager taskmasterd (PID 1 of its own namespace, `-fleet-listen` on loopback, no jobs of its own) and %d agents: the benchmark's goroutines, each with its own TLS connection, speaking the real wire (`ClientHello`, then a `JobState` of 2 jobs, answering pings and commands). **Handshakes**: the %d agents join, 32 at a time (TCP, TLS 1.3, hello); the rate counts until the last `ServerHello`. **Memory per idle agent**: the manager's RSS with every agent joined (and its jobs known) less its RSS before, over %d. **Status**: `status` of every job over the control protocol (%d jobs, all of them the agents'), %d times on one connection: the manager answers from the states the agents pushed. **Fan-out**: `stop AGENT/web` for every agent, over 32 control connections at once, until every result is in.\n\n", n, n, n, 2*n, b.fleetStatusRuns)
	sb.WriteString("| agents | handshakes/s | manager RSS before | with agents | per agent | status p50 ms | status p99 ms | fan-out ms | commands/s |\n|---|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&sb, "| %d | %.0f | %s | %s | %.1f KiB | %.2f | %.2f | %.0f | %.0f |\n\n", n, float64(n)/joined.Seconds(),
		kib(rssBefore), kib(rssWith), perAgent, percentile(status, 0.5), percentile(status, 0.99),
		ms([]time.Duration{fan})[0], float64(n)/fan.Seconds())
	if n >= 1000 {
		b.check(fmt.Sprintf("fleet: status of every job under 100 ms with %d agents", n), percentile(status, 0.99) < 100, "p99 %.2f ms", percentile(status, 0.99))
		b.check(fmt.Sprintf("fleet: under 50 KiB of manager memory per idle agent (%d agents)", n), perAgent < 50, "%.1f KiB", perAgent)
	}
	return sb.String(), nil
}

// startManager starts a fleet manager and waits until its fleet port
// answers; it returns it and that address.
func (b *bench) startManager(ctx context.Context) (*supervisor, string, error) {
	dir, err := os.MkdirTemp(b.tmp, "fleet-")
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256([]byte(fleetSecret))
	rules := filepath.Join(dir, "agents.json")
	if err := os.WriteFile(rules, fmt.Appendf(nil, `[{"id":"*","secret_sha256":"%s","allowed_ips":["127.0.0.0/8"]}]`, hex.EncodeToString(sum[:])), 0o600); err != nil {
		return nil, "", err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	fleetAddr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	argv := []string{b.taskmasterd, "-jobs", filepath.Join(dir, "jobs"), "-listen", addr, "-http", "off",
		"-state", filepath.Join(dir, "state"), "-fleet-listen", fleetAddr, "-fleet-agents", rules}
	p, err := startInNamespace("taskmasterd fleet manager", argv, filepath.Join(dir, "log"))
	if err != nil {
		return nil, "", err
	}
	m := &supervisor{proc: p, addr: addr}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fleetAddr, time.Second)
		if err == nil {
			c.Close()
			return m, fleetAddr, nil
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, "", fmt.Errorf("the manager does not listen on %s: %v%s", fleetAddr, err, p.logTail())
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			m.stop()
			return nil, "", err
		}
	}
}

// benchAgent is a lightweight agent: a TLS connection that says hello,
// reports two jobs, and answers pings and commands.
type benchAgent struct {
	id   string
	conn *tls.Conn
	mu   sync.Mutex // one writer at a time
	done chan struct{}
}

// benchJobs are the two jobs each agent reports.
func benchJobs(id string) *fleetpb.JobState {
	st := &fleetpb.JobState{Reset_: true}
	for _, name := range []string{"web", "worker"} {
		status := fmt.Sprintf(`{"name":%q,"state":"RUNNING","autostart":true,"critical":false,"healthy":true,"processes":[{"name":"%s:0","pid":7,"state":"RUNNING","since":"2026-12-04T00:00:00Z","restarts":0,"exit_code":null}]}`, name, name)
		st.Jobs = append(st.Jobs, &fleetpb.JobStatus{Name: name, Status: status})
	}
	return st
}

func dialAgent(ctx context.Context, addr, id string) (*benchAgent, error) {
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}} // the benchmark checks nothing
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	a := &benchAgent{id: id, conn: nc.(*tls.Conn), done: make(chan struct{})}
	r := wire.NewReader(a.conn)
	if err := a.send(&fleetpb.ClientHello{ClientID: id, Auth: fleetSecret, Version: 1, Build: "bench"}); err != nil {
		a.conn.Close()
		return nil, err
	}
	m, err := r.Read()
	if err == nil && m.GetServerHello() == nil {
		err = fmt.Errorf("agent %s: %v instead of ServerHello (%s)", id, m.GetType(), m.GetBye().GetReason())
	}
	if err != nil {
		a.conn.Close()
		return nil, err
	}
	if err := a.send(benchJobs(id)); err != nil {
		a.conn.Close()
		return nil, err
	}
	go a.serve(r)
	return a, nil
}

func (a *benchAgent) send(p any) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return wire.Write(a.conn, wire.New(p))
}

// serve answers pings and commands until the connection ends.
func (a *benchAgent) serve(r *wire.Reader) {
	defer close(a.done)
	for {
		m, err := r.Read()
		if errors.Is(err, wire.ErrUnknown) {
			continue
		}
		if err != nil {
			return
		}
		switch p := m.GetMessage().(type) {
		case *fleetpb.Message_Ping:
			_ = a.send(&fleetpb.Pong{Data: p.Ping.GetData()})
		case *fleetpb.Message_Command:
			_ = a.send(&fleetpb.CommandResult{CommandID: p.Command.GetCommandID(), Status: fleetpb.CommandResult_SUCCESS,
				Changed: true, Kind: string(ctlproto.KindSuccess)})
		}
	}
}

func (a *benchAgent) close() {
	a.conn.Close()
	<-a.done
}

// dialAgents joins n agents, 32 at a time.
func dialAgents(ctx context.Context, addr string, n int) ([]*benchAgent, error) {
	agents := make([]*benchAgent, n)
	errs := make(chan error, n)
	slots := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range n {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			a, err := dialAgent(ctx, addr, fmt.Sprintf("agent-%04d", i))
			if err != nil {
				errs <- err
				return
			}
			agents[i] = a
		})
	}
	wg.Wait()
	var joined []*benchAgent
	for _, a := range agents {
		if a != nil {
			joined = append(joined, a)
		}
	}
	select {
	case err := <-errs:
		return joined, err
	default:
	}
	return joined, nil
}

// awaitFleet waits until the manager lists n agents connected, with 2n jobs.
func awaitFleet(ctx context.Context, ctl *ctlproto.Client, n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := ctl.Do(ctx, &ctlproto.Request{Command: ctlproto.CmdAgents})
		if err != nil {
			return err
		}
		var reply struct {
			Agents []struct {
				State string `json:"state"`
				Jobs  int    `json:"jobs"`
			} `json:"agents"`
		}
		if err := json.Unmarshal(resp.Data, &reply); err != nil {
			return fmt.Errorf("agents: %v: %s", err, resp.Error)
		}
		ready := 0
		for _, a := range reply.Agents {
			if a.State == "connected" && a.Jobs == 2 {
				ready++
			}
		}
		if ready == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the manager lists %d of %d agents with their jobs", ready, n)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// timeStatus times runs status requests of every job; each must list jobs.
func timeStatus(ctx context.Context, ctl *ctlproto.Client, runs, jobs int) ([]float64, error) {
	var out []float64
	for range runs {
		t0 := time.Now()
		resp, err := ctl.Do(ctx, &ctlproto.Request{Command: ctlproto.CmdStatus})
		d := time.Since(t0)
		if err != nil {
			return nil, err
		}
		var all struct {
			Jobs []json.RawMessage `json:"jobs"`
		}
		if err := json.Unmarshal(resp.Data, &all); err != nil || len(all.Jobs) != jobs {
			return nil, fmt.Errorf("status lists %d jobs, want %d (%v)", len(all.Jobs), jobs, err)
		}
		out = append(out, ms([]time.Duration{d})[0])
	}
	return out, nil
}

// fanOut sends stop AGENT/web for every agent over 32 connections and
// returns the time until every result is in.
func fanOut(ctx context.Context, addr string, agents []*benchAgent) (time.Duration, error) {
	const conns = 32
	clients := make([]*ctlproto.Client, conns)
	for i := range clients {
		c, err := ctlproto.Dial(ctx, addr, "")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		// One request each, before the next dial: the control port checks
		// a few newcomers at a time (docs/protocol.md, Limits).
		if _, err := c.Do(ctx, &ctlproto.Request{Command: ctlproto.CmdStatus, Job: agents[0].id + "/web"}); err != nil {
			return 0, err
		}
		clients[i] = c
	}
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i, c := range clients {
		wg.Go(func() {
			for j := i; j < len(agents); j += conns {
				if err := ctlDo(ctx, c, ctlproto.CmdStop, agents[j].id+"/web"); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	d := time.Since(t0)
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	return d, nil
}
