package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// ctlJobs is how many jobs (taskmasterd) or programs (supervisord) the
// control section spreads b.ctlProcs processes over: enough names for the
// throughput clients to vary the job they ask about.
const ctlJobs = 20

// control measures the control interfaces of taskmasterd and supervisord,
// both running ctlJobs jobs of b.ctlProcs processes in all, at the same
// time: the status command as a user runs it, one bare status request on a
// fresh connection, and the throughput of persistent connections under 1 to
// 64 concurrent clients.
func (b *bench) control(ctx context.Context) (string, error) {
	per := max(b.ctlProcs/ctlJobs, 1)
	tm, sd, err := b.startControlPair(ctx, per)
	if err != nil {
		return "", err
	}
	defer tm.stop()
	defer sd.stop()
	sups := []*supervisor{tm, sd}

	cli, err := b.timeCLI(ctx, sups)
	if err != nil {
		return "", err
	}
	floor, err := b.timeFloor(ctx, b.ctlRuns)
	if err != nil {
		return "", err
	}
	rpc, err := b.timeFreshRequests(ctx, tm, sd)
	if err != nil {
		return "", err
	}
	loads, err := b.throughputAll(ctx, tm, sd, per)
	if err != nil {
		return "", err
	}
	for _, s := range sups {
		if err := s.alive(); err != nil {
			return "", err
		}
	}
	tmCLI, sdCLI := summarize(ms(cli[0])).median, summarize(ms(cli[1])).median
	b.check(fmt.Sprintf("taskmasterctl status faster than supervisorctl status (%d processes)", per*ctlJobs),
		tmCLI < sdCLI, "%s ms against %s ms (%.2fx)", num(tmCLI), num(sdCLI), ratio(tmCLI, sdCLI))
	b.check(fmt.Sprintf("taskmasterctl status under 5 ms (%d processes)", per*ctlJobs), tmCLI < 5,
		"%s ms (the Go floor alone: %s ms)", num(tmCLI), num(summarize(ms(floor)).median))
	return b.controlReport(sups, per, cli, rpc, loads) + floorNote(cli[0], floor), nil
}

// timeFloor times n runs of the Go floor program, as timeCLI times the
// clients.
func (b *bench) timeFloor(ctx context.Context, n int) ([]time.Duration, error) {
	floor, err := b.goFloor()
	if err != nil {
		return nil, err
	}
	var out []time.Duration
	for range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d, err := timeRun([]string{floor}, nil)
		if err != nil {
			return nil, fmt.Errorf("gofloor: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}

// floorNote compares taskmasterctl's run with the Go floor's: the part of
// it that no Go client can save.
func floorNote(ctl, floor []time.Duration) string {
	c, f := summarize(ms(ctl)), summarize(ms(floor))
	return fmt.Sprintf("\n**The floor**: a static Go program that only exits (`gofloor`, see section 8) takes %s ms in this run, timed the same way: of `taskmasterctl status`'s %s ms, %s ms is the Go runtime's start-up and exit, and %s ms is the client's own work (its start-up beyond the runtime's, the connection, the peer check, the request, the table).\n",
		f.medianSpread(), num(c.median), num(f.median), num(c.median-f.median))
}

// startControlPair starts taskmasterd and supervisord with ctlJobs jobs of
// per instances each and waits until every process is RUNNING (both count a
// process as started after 1 s by default).
func (b *bench) startControlPair(ctx context.Context, per int) (tm, sd *supervisor, err error) {
	tm, err = b.startTaskmasterd("taskmasterd", taskmasterdJobs(ctlJobs, per, ""), nil)
	if err != nil {
		return nil, nil, err
	}
	sd, err = b.startSupervisord("supervisord", supervisordPrograms(ctlJobs, per, ""), nil)
	if err != nil {
		tm.stop()
		return nil, nil, err
	}
	for _, s := range []*supervisor{tm, sd} {
		if err = waitRunning(ctx, s, ctlJobs*per); err != nil {
			tm.stop()
			sd.stop()
			return nil, nil, err
		}
	}
	return tm, sd, nil
}

// timeCLI times each supervisor's status command b.ctlRuns times,
// alternating which goes first.
func (b *bench) timeCLI(ctx context.Context, sups []*supervisor) ([][]time.Duration, error) {
	progress("control: %d status commands each", b.ctlRuns)
	cli := make([][]time.Duration, len(sups))
	for run := range b.ctlRuns {
		for k := range sups {
			i := (run + k) % len(sups)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			d, err := timeRun(sups[i].ctl, nil)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", strings.Join(sups[i].ctl, " "), err)
			}
			cli[i] = append(cli[i], d)
		}
	}
	return cli, nil
}

// timeFreshRequests times b.rpcRuns bare status requests (every process)
// on fresh connections against each of tm and sd, alternating. It leaves
// out the command-line client's start-up, which dominates the CLI times.
func (b *bench) timeFreshRequests(ctx context.Context, tm, sd *supervisor) ([][]time.Duration, error) {
	progress("control: %d requests each on fresh connections", b.rpcRuns)
	rpcs := []func(context.Context) error{
		func(ctx context.Context) error { return taskmasterStatus(ctx, tm.addr) },
		func(ctx context.Context) error { return supervisorStatus(ctx, sd.sock) },
	}
	names := []string{tm.name, sd.name}
	rpc := make([][]time.Duration, len(rpcs))
	for run := range b.rpcRuns {
		for k := range rpcs {
			i := (run + k) % len(rpcs)
			t0 := time.Now()
			if err := rpcs[i](ctx); err != nil {
				return nil, fmt.Errorf("%s: %w", names[i], err)
			}
			rpc[i] = append(rpc[i], time.Since(t0))
		}
	}
	return rpc, nil
}

// waitRunning waits until s reports n processes RUNNING, asking it over its
// own control interface every 200 ms.
func waitRunning(ctx context.Context, s *supervisor, n int) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := runningCount(ctx, s)
		if err == nil && got == n {
			return nil
		}
		if err := s.alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d of %d processes RUNNING after 60 s (%v)%s", s.name, got, n, err, s.logTail())
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// runningCount asks s how many of its processes are RUNNING.
func runningCount(ctx context.Context, s *supervisor) (int, error) {
	if s.sock != "" {
		body, err := xmlRPC(ctx, freshTransport(s.sock), getAllProcessInfo)
		// statename is the only string member whose value can be RUNNING.
		return bytes.Count(body, []byte("<string>RUNNING</string>")), err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := ctlproto.Dial(ctx, s.addr, "")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	resp, err := c.Do(ctx, &ctlproto.Request{Command: ctlproto.CmdStatus})
	if err != nil {
		return 0, err
	}
	var all struct {
		Jobs []struct {
			Processes []struct{ State string }
		}
	}
	if err := json.Unmarshal(resp.Data, &all); err != nil {
		return 0, fmt.Errorf("status reply %s %q: %w", resp.Kind, resp.Data, err)
	}
	n := 0
	for _, j := range all.Jobs {
		for _, p := range j.Processes {
			if p.State == "RUNNING" {
				n++
			}
		}
	}
	return n, nil
}

// taskmasterStatus asks taskmasterd at addr for every job's status on a new
// connection.
func taskmasterStatus(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := ctlproto.Dial(ctx, addr, "")
	if err != nil {
		return err
	}
	defer c.Close()
	resp, err := c.Do(ctx, &ctlproto.Request{Command: ctlproto.CmdStatus})
	if err != nil {
		return err
	}
	last := fmt.Sprintf(`"name":"s%02d"`, ctlJobs-1)
	if resp.Kind != ctlproto.KindStatus || !bytes.Contains(resp.Data, []byte(last)) {
		return fmt.Errorf("unexpected status reply %s %.200q", resp.Kind, resp.Data)
	}
	return nil
}

// getAllProcessInfo is the XML-RPC call behind supervisorctl status.
const getAllProcessInfo = `<?xml version="1.0"?><methodCall><methodName>supervisor.getAllProcessInfo</methodName><params></params></methodCall>`

// supervisorStatus asks supervisord for every process's state over its unix
// socket on a new connection.
func supervisorStatus(ctx context.Context, sock string) error {
	body, err := xmlRPC(ctx, freshTransport(sock), getAllProcessInfo)
	if err != nil {
		return err
	}
	if !bytes.Contains(body, fmt.Appendf(nil, "s%02d", ctlJobs-1)) {
		return fmt.Errorf("unexpected reply: %.200s", body)
	}
	return nil
}

// freshTransport is an HTTP transport over the unix socket sock that opens a
// connection per request.
func freshTransport(sock string) *http.Transport {
	tr := unixTransport(sock, nil)
	tr.DisableKeepAlives = true
	return tr
}

// unixTransport is an HTTP transport over the unix socket sock that keeps
// one connection alive between requests, counting the connections it
// opens in dials when not nil.
func unixTransport(sock string, dials *atomic.Int64) *http.Transport {
	return &http.Transport{
		MaxIdleConnsPerHost: 1,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			if dials != nil {
				dials.Add(1)
			}
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}
}

// xmlRPC posts the XML-RPC call body to supervisord through tr and returns
// the reply; a fault is an error.
func xmlRPC(ctx context.Context, tr *http.Transport, call string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://localhost/RPC2", strings.NewReader(call))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// Reading to the end lets the transport reuse the connection.
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte("<fault>")) {
		return nil, fmt.Errorf("unexpected reply %s: %.200s", resp.Status, body)
	}
	return body, nil
}

// caller is one client connection of a throughput run: call sends request
// number i and waits for its reply.
type caller interface {
	call(ctx context.Context, i int) error
	close()
}

// variant is one kind of request measured for throughput.
type variant struct {
	name string
	dial func(ctx context.Context, client int) (caller, error)
	// conns counts the connections opened, where the client cannot tell
	// by itself (HTTP keep-alive); nil: one per client.
	conns *atomic.Int64
}

// load is the outcome of one throughput run.
type load struct {
	name     string // the variant's
	requests int
	elapsed  time.Duration
	lat      []time.Duration // every round trip
	conns    int             // connections opened
}

// throughputAll runs every throughput variant with each client count of
// b.clients, rotating the order of the variants so that none always runs
// first. The result is indexed by client count, then variant.
func (b *bench) throughputAll(ctx context.Context, tm, sd *supervisor, per int) ([][]load, error) {
	vs := b.variants(tm, sd, per)
	out := make([][]load, len(b.clients))
	for ci, c := range b.clients {
		out[ci] = make([]load, len(vs))
		for k := range vs {
			i := (ci + k) % len(vs)
			progress("control: throughput, %d clients, %s, %v", c, vs[i].name, b.throughput)
			l, err := runLoad(ctx, vs[i], c, b.throughput)
			if err != nil {
				return nil, fmt.Errorf("%d clients, %s: %w", c, vs[i].name, err)
			}
			out[ci][i] = l
		}
	}
	return out, nil
}

// variants are the throughput requests: taskmasterd's status of a job
// (what the issue asks for) and of one instance (the same answer as
// supervisord's), and supervisord's getProcessInfo of one process.
func (b *bench) variants(tm, sd *supervisor, per int) []variant {
	sdConns := &atomic.Int64{}
	return []variant{
		{name: "taskmasterd `status sNN`", dial: func(ctx context.Context, client int) (caller, error) {
			return dialTaskmaster(ctx, tm.addr, client, func(i int) string { return fmt.Sprintf("s%02d", i%ctlJobs) })
		}},
		{name: "taskmasterd `status sNN:K`", dial: func(ctx context.Context, client int) (caller, error) {
			return dialTaskmaster(ctx, tm.addr, client, func(i int) string {
				return fmt.Sprintf("s%02d:%d", i%ctlJobs, i/ctlJobs%per)
			})
		}},
		{name: "supervisord `getProcessInfo`", conns: sdConns, dial: func(ctx context.Context, client int) (caller, error) {
			return dialSupervisor(ctx, sd.sock, sdConns, client, per)
		}},
	}
}

// runLoad runs c clients of v, each on its own connection, sending request
// after request for d, and records every round trip.
func runLoad(ctx context.Context, v variant, c int, d time.Duration) (load, error) {
	if v.conns != nil {
		v.conns.Store(0)
	}
	callers := make([]caller, 0, c)
	defer func() {
		for _, cl := range callers {
			cl.close()
		}
	}()
	for i := range c {
		cl, err := v.dial(ctx, i)
		if err != nil {
			return load{}, err
		}
		callers = append(callers, cl)
	}
	lats := make([][]time.Duration, c)
	errs := make([]error, c)
	var wg sync.WaitGroup
	t0 := time.Now()
	end := t0.Add(d)
	for k, cl := range callers {
		wg.Go(func() { lats[k], errs[k] = hammer(ctx, cl, k, end) })
	}
	wg.Wait()
	l := load{name: v.name, elapsed: time.Since(t0), conns: c}
	if v.conns != nil {
		l.conns = int(v.conns.Load())
	}
	for k := range callers {
		if errs[k] != nil {
			return load{}, errs[k]
		}
		l.lat = append(l.lat, lats[k]...)
	}
	l.requests = len(l.lat)
	return l, nil
}

// hammer sends requests through cl until end, client k starting at its own
// job so that the clients ask about different jobs at the same time.
func hammer(ctx context.Context, cl caller, k int, end time.Time) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, 4096)
	for i := k * 7; time.Now().Before(end); i++ {
		t0 := time.Now()
		if err := cl.call(ctx, i); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t0))
	}
	return lat, nil
}

// tmCaller is one persistent connection to taskmasterd asking the status of
// target(i).
type tmCaller struct {
	c      *ctlproto.Client
	target func(i int) string
}

// dialTaskmaster connects to taskmasterd and checks that the connection is
// served: taskmasterd answers a connection over its cap with fail and closes
// it, and a connection of an earlier run can hold a slot for a moment after
// the client closed it, so a refused connection is tried again for a while.
func dialTaskmaster(ctx context.Context, addr string, client int, target func(int) string) (caller, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := ctlproto.Dial(ctx, addr, "")
		if err != nil {
			return nil, err
		}
		t := &tmCaller{c: c, target: target}
		err = t.call(ctx, client)
		if err == nil {
			return t, nil
		}
		c.Close()
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("client %d: %w", client, err)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// call asks for the status of target(i) and checks that the reply is it.
func (t *tmCaller) call(ctx context.Context, i int) error {
	job := t.target(i)
	resp, err := t.c.Do(ctx, &ctlproto.Request{Command: ctlproto.CmdStatus, Job: job})
	if err != nil {
		return err
	}
	name, _, _ := strings.Cut(job, ":")
	if resp.Kind != ctlproto.KindStatus || !bytes.Contains(resp.Data, fmt.Appendf(nil, `"name":%q`, name)) {
		return fmt.Errorf("status %s: unexpected reply %s %.200q", job, resp.Kind, resp.Data)
	}
	return nil
}

// close closes the connection.
func (t *tmCaller) close() { t.c.Close() }

// sdCaller is one client of supervisord asking for one process's state
// with supervisor.getProcessInfo, over its own HTTP transport, which keeps
// its connection alive between requests.
type sdCaller struct {
	tr  *http.Transport
	per int // instances of each program
}

// dialSupervisor makes a client of supervisord at sock and sends it a
// first request, which opens its connection outside the measurement as
// dialTaskmaster does.
func dialSupervisor(ctx context.Context, sock string, dials *atomic.Int64, client, per int) (caller, error) {
	s := &sdCaller{tr: unixTransport(sock, dials), per: per}
	if err := s.call(ctx, client); err != nil {
		return nil, fmt.Errorf("client %d: %w", client, err)
	}
	return s, nil
}

// call asks for process i's state.
func (s *sdCaller) call(ctx context.Context, i int) error {
	name := supervisordProcess(i%ctlJobs, i/ctlJobs%s.per, s.per)
	call := `<?xml version="1.0"?><methodCall><methodName>supervisor.getProcessInfo</methodName><params><param><value><string>` +
		name + `</string></value></param></params></methodCall>`
	body, err := xmlRPC(ctx, s.tr, call)
	if err != nil {
		return fmt.Errorf("getProcessInfo %s: %w", name, err)
	}
	_, short, _ := strings.Cut(name, ":")
	if !bytes.Contains(body, []byte("<string>"+short+"</string>")) {
		return fmt.Errorf("getProcessInfo %s: unexpected reply %.200s", name, body)
	}
	return nil
}

// close closes the kept-alive connection.
func (s *sdCaller) close() { s.tr.CloseIdleConnections() }

// supervisordProcess is supervisord's name for instance k of program job,
// as supervisordPrograms names them.
func supervisordProcess(job, k, per int) string {
	if per == 1 {
		return fmt.Sprintf("s%02d:s%02d", job, job)
	}
	return fmt.Sprintf("s%02d:s%02d_%04d", job, job, k)
}

// controlReport is the section's markdown.
func (b *bench) controlReport(sups []*supervisor, per int, cli, rpc [][]time.Duration, loads [][]load) string {
	var sb strings.Builder
	n := per * ctlJobs
	fmt.Fprintf(&sb, "## 4. Control\n\n")
	fmt.Fprintf(&sb, "taskmasterd and supervisord each run %d jobs (programs) of %s, %d in all, at the same time, each as PID 1 of its own PID namespace; every process is RUNNING before the clock starts. "+
		"**CLI**: wall time of `taskmasterctl -addr ADDR status` (TCP loopback) and `supervisorctl -c CONF status` (unix socket), %d runs each, alternating, the client's own start-up included. "+
		"**Request**: one request for every process's status on a fresh connection from Go, %d each: the Taskmaster protocol's `status` through `ctlproto`, and supervisord's XML-RPC `supervisor.getAllProcessInfo` (what `supervisorctl status` asks). "+
		"A fresh connection to taskmasterd includes its check of which local user opened it (TCP has no peer credentials, so it asks the kernel who owns the client's socket, through its socket diagnostics); the throughput runs below pay that once per client. Median (p10–p90) in ms.\n\n",
		ctlJobs, processes(per), n, b.ctlRuns, b.rpcRuns)
	fmt.Fprintf(&sb, "| supervisor | `status` CLI ms | request ms |\n|---|---|---|\n")
	for i, s := range sups {
		fmt.Fprintf(&sb, "| %s | %s | %s |\n", s.name, summarize(ms(cli[i])).medianSpread(), summarize(ms(rpc[i])).medianSpread())
	}
	sb.WriteString(b.throughputReport(per, loads))
	return sb.String()
}

// throughputReport is the table of the throughput runs.
func (b *bench) throughputReport(per int, loads [][]load) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n**Throughput**: for %g s, each of C clients (goroutines of the benchmark, on the same %d cores as the supervisors) sends request after request on its own persistent connection, each waiting for its reply; the job asked about changes with every request. "+
		"`status sNN` answers a job of %s (what the issue asks); `status sNN:K` answers one process, as supervisord's `supervisor.getProcessInfo` does (XML-RPC over HTTP/1.1 on its unix socket; supervisord keeps a connection alive between requests). The connections column counts the connections the clients opened: as many as clients means that every request after each client's first reused its connection. "+
		"Latency is each round trip's, all clients together. taskmasterd serves at most %d connections by default (`ctlproto.DefaultMaxConns`): 64 clients use every slot, and a 65th would evict the one that has waited longest for its next request.\n\n",
		b.throughput.Seconds(), runtime.NumCPU(), processes(per), ctlproto.DefaultMaxConns)
	sb.WriteString("| clients | request | requests/s | p50 ms | p99 ms | connections |\n|---|---|---|---|---|---|\n")
	for ci, c := range b.clients {
		for _, l := range loads[ci] {
			fmt.Fprintf(&sb, "| %d | %s | %.0f | %s | %s | %d |\n", c, l.name,
				float64(l.requests)/l.elapsed.Seconds(), num(percentile(ms(l.lat), 0.5)), num(percentile(ms(l.lat), 0.99)), l.conns)
		}
	}
	return sb.String()
}

// processes is "1 process" or "N processes".
func processes(n int) string {
	if n == 1 {
		return "1 process"
	}
	return fmt.Sprintf("%d processes", n)
}

// ctlDo sends cmd for job over ctl and returns an error unless it
// succeeded.
func ctlDo(ctx context.Context, ctl *ctlproto.Client, cmd ctlproto.Command, job string) error {
	resp, err := ctl.Do(ctx, &ctlproto.Request{Command: cmd, Job: job})
	if err == nil && resp.Kind != ctlproto.KindSuccess {
		err = fmt.Errorf("%s %s: %s %s", cmd, job, resp.Kind, resp.Error)
	}
	return err
}
