package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// link measures the live link (docs/websocket.md): how soon a state change
// reaches connected clients, with 1 and with many of them; whether many
// clients slow supervision down while instances crash-loop; and the memory
// each connected client costs taskmasterd.
func (b *bench) link(ctx context.Context) (string, error) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "## 10. Live link\n\n")
	lat, err := b.linkLatency(ctx)
	if err != nil {
		return "", err
	}
	sb.WriteString(lat)
	fan, err := b.linkFanOut(ctx)
	if err != nil {
		return "", err
	}
	sb.WriteString(fan)
	return sb.String(), nil
}

// linkFlip is the job whose state changes the latency runs time: one
// instance, RUNNING as soon as it has started.
var linkFlip = map[string]string{"flip": fmt.Sprintf(`{"cmd":%q,"starttime":0,"stoptime":1}`, sleeper)}

// linkLatency times state change -> job_update_event at every client, for
// each client count, and the memory the clients cost.
func (b *bench) linkLatency(ctx context.Context) (string, error) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Event latency: taskmasterd runs one job of one instance (`%s`, `starttime` 0); %d times, the benchmark stops it and starts it again over the control protocol, which makes three state changes (STOPPING, STOPPED, RUNNING). Each of K clients connected to `/api/socket` (the benchmark's own goroutines, with `github.com/coder/websocket`) takes the time each `job_update_event` arrives; its latency is that time less the event's `time`, which taskmasterd sets when the state changes (both read the same clock). **Memory per client** is taskmasterd's RSS with the K clients connected and registered, less its RSS before they connected, over K. The clients share the machine's 2 cores with taskmasterd, so the latencies include their own scheduling.\n\n", sleeper, b.linkCycles)
	sb.WriteString("| clients | events | p50 ms | p99 ms | max ms | RSS before | RSS with clients | memory per client |\n|---|---|---|---|---|---|---|---|\n")
	for _, k := range b.linkClients {
		r, err := b.latencyRun(ctx, k)
		if err != nil {
			return "", err
		}
		p50, p99 := percentile(r.latencies, 0.5), percentile(r.latencies, 0.99)
		fmt.Fprintf(&sb, "| %d | %d | %.2f | %.2f | %.2f | %s | %s | %s |\n", k, len(r.latencies), p50, p99,
			percentile(r.latencies, 1), kib(r.rssBefore), kib(r.rssWith), kib(r.perClient()))
		if k == b.linkClients[len(b.linkClients)-1] {
			b.check(fmt.Sprintf("live link: event p99 under 10 ms with %d clients", k), p99 < 10, "%.2f ms", p99)
		}
	}
	return sb.String() + "\n", nil
}

// latencyRun is one latency measurement.
type latencyRun struct {
	latencies          []float64 // ms, every event at every client
	rssBefore, rssWith uint64    // KiB
	clients            int
}

func (r latencyRun) perClient() uint64 {
	if r.rssWith < r.rssBefore || r.clients == 0 {
		return 0
	}
	return (r.rssWith - r.rssBefore) / uint64(r.clients)
}

func (b *bench) latencyRun(ctx context.Context, k int) (latencyRun, error) {
	progress("link: latency with %d clients", k)
	tm, err := b.startTaskmasterd("taskmasterd", linkFlip, nil)
	if err != nil {
		return latencyRun{}, err
	}
	defer tm.stop()
	if err := waitRunning(ctx, tm, 1); err != nil {
		return latencyRun{}, err
	}
	run := latencyRun{clients: k}
	run.rssBefore, _, _ = memory(tm.pid)
	clients, err := dialClients(ctx, tm.http, k)
	if err != nil {
		return run, err
	}
	defer closeClients(clients)
	if err := sleep(ctx, 500*time.Millisecond); err != nil { // let the handshakes' garbage settle
		return run, err
	}
	run.rssWith, _, _ = memory(tm.pid)
	var mu sync.Mutex
	var wg sync.WaitGroup
	want := 3 * b.linkCycles
	for _, c := range clients {
		wg.Go(func() {
			lat := c.collect(ctx, "flip", want)
			mu.Lock()
			run.latencies = append(run.latencies, lat...)
			mu.Unlock()
		})
	}
	ctl, err := ctlproto.Dial(ctx, tm.addr, "")
	if err != nil {
		return run, err
	}
	defer ctl.Close()
	for range b.linkCycles {
		for _, cmd := range []ctlproto.Command{ctlproto.CmdStop, ctlproto.CmdStart} {
			if err := ctlDo(ctx, ctl, cmd, "flip"); err != nil {
				return run, err
			}
		}
	}
	wg.Wait()
	if len(run.latencies) != want*k {
		return run, fmt.Errorf("%d clients got %d events, want %d", k, len(run.latencies), want*k)
	}
	return run, nil
}

// linkFanOut compares supervision with no client and with many while
// instances crash-loop: the time a start and a stop of a job of N
// instances take, each answered once every instance is RUNNING, or gone.
func (b *bench) linkFanOut(ctx context.Context) (string, error) {
	k := b.linkClients[len(b.linkClients)-1]
	var sb strings.Builder
	fmt.Fprintf(&sb, "Fan-out under load: taskmasterd runs %d instances of `/bin/sh -c 'sleep 1.2; exit 1'` (restarted at once on every exit: `autorestart` true, `starttime` 0), which make about %d state changes a second (one per restart), and a job of %d sleeping instances, stopped then started over the control protocol %d times; each `stop` and `start` is answered once the instances are gone, or RUNNING. With K clients connected, every change is sent to each of them; the clients register before the crash loop starts (its job is started over the control protocol once they have), then their process moves to the idle scheduling class (`SCHED_IDLE`), so that they take only the CPU time taskmasterd leaves and what shows is taskmasterd's cost of pushing to them. Median (min–max) in ms. **taskmasterd CPU** (its threads' schedstat) and **write syscalls** (`syscw` of `/proc/PID/io`) are taskmasterd's totals over all the stops and starts: they depend much less on the machine's load than the times.\n\n", b.linkLoopers, b.linkLoopers*5/6, b.linkBatch, b.runs)
	sb.WriteString("| clients | start ms | stop ms | events delivered | taskmasterd CPU ms | write syscalls |\n|---|---|---|---|---|---|\n")
	counts := []int{0, 10, k}
	if k <= 10 {
		counts = []int{0, k}
	}
	medians := make([][2]float64, len(counts))
	for i, clients := range counts {
		r, err := b.fanOutRun(ctx, clients)
		if err != nil {
			return "", err
		}
		s1, s2 := summarize(ms(r.starts)), summarize(ms(r.stops))
		medians[i] = [2]float64{s1.median, s2.median}
		fmt.Fprintf(&sb, "| %d | %.1f (%.1f–%.1f) | %.1f (%.1f–%.1f) | %d | %.0f | %d |\n", clients, s1.median, s1.min, s1.max,
			s2.median, s2.min, s2.max, r.events, float64(r.cpu)/float64(time.Millisecond), r.writes)
	}
	last := medians[len(medians)-1]
	worst := max(ratio(last[0], medians[0][0]), ratio(last[1], medians[0][1]))
	b.check(fmt.Sprintf("live link: start/stop with %d clients within 1.25x of none, instances crash-looping", k),
		worst <= 1.25, "%.2fx", worst)
	return sb.String() + "\n", nil
}

// fanOutResult is one fan-out run: the times of the starts and stops, the
// events the clients got, and what the stops and starts cost taskmasterd:
// its CPU time and its write-like system calls, which, unlike the times,
// hardly depend on what else the machine runs.
type fanOutResult struct {
	starts, stops []time.Duration
	events        int
	cpu           time.Duration
	writes        uint64
}

func (b *bench) fanOutRun(ctx context.Context, clients int) (r fanOutResult, err error) {
	progress("link: fan-out with %d clients", clients)
	files := map[string]string{
		"loop":  fmt.Sprintf(`{"cmd":["/bin/sh","-c","sleep 1.2; exit 1"],"numprocs":%d,"starttime":0,"autorestart":true,"startretries":1000,"autostart":false}`, b.linkLoopers),
		"batch": fmt.Sprintf(`{"cmd":%q,"numprocs":%d,"starttime":0,"stoptime":2}`, sleeper, b.linkBatch),
	}
	tm, err := b.startTaskmasterd("taskmasterd", files, nil)
	if err != nil {
		return r, err
	}
	defer tm.stop()
	if err := waitRunning(ctx, tm, b.linkBatch); err != nil {
		return r, err
	}
	// The clients connect before the crash loop starts: registering them
	// under it is not what is measured, and on a saturated machine it
	// took seconds each.
	counter, err := startClientProcess(ctx, tm.http, clients)
	if err != nil {
		return r, err
	}
	defer counter.kill()
	ctl, err := ctlproto.Dial(ctx, tm.addr, "")
	if err != nil {
		return r, err
	}
	defer ctl.Close()
	if err := ctlDo(ctx, ctl, ctlproto.CmdStart, "loop"); err != nil {
		return r, err
	}
	cpu0, w0 := procCost(tm.pid)
	for range b.runs {
		for _, cmd := range []ctlproto.Command{ctlproto.CmdStop, ctlproto.CmdStart} {
			t0 := time.Now()
			err := ctlDo(ctx, ctl, cmd, "batch")
			d := time.Since(t0)
			if err != nil {
				return r, err
			}
			if cmd == ctlproto.CmdStop {
				r.stops = append(r.stops, d)
			} else {
				r.starts = append(r.starts, d)
			}
		}
	}
	cpu1, w1 := procCost(tm.pid)
	r.cpu, r.writes = cpu1-cpu0, w1-w0
	r.events, err = counter.finish()
	return r, err
}

// linkClientsArg, as the first argument, makes this binary a process of
// live link clients that count events (linkClientsMain).
const linkClientsArg = "-link-clients"

// clientProcess is a process of live link clients counting events.
type clientProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startClientProcess starts k clients of the live link at addr in a
// process of their own, which moves to the idle scheduling class
// (SCHED_IDLE) once every client has registered, so that they then take
// only the CPU time that taskmasterd and its jobs leave: what is measured
// is taskmasterd's cost of pushing events to them, not theirs of reading
// them. They register at the normal class: at the idle one, on a busy
// machine, a client could wait longer for the CPU than its handshake may
// last. It returns once every client has registered.
func startClientProcess(ctx context.Context, addr string, k int) (*clientProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, linkClientsArg, addr, strconv.Itoa(k))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &clientProcess{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	if line, err := p.out.ReadString('\n'); err != nil || line != "ready\n" {
		p.kill()
		return nil, fmt.Errorf("link clients: %q %v", line, err)
	}
	return p, nil
}

// finish ends the clients and returns how many events they got.
func (p *clientProcess) finish() (int, error) {
	p.stdin.Close()
	line, err := p.out.ReadString('\n')
	if err != nil {
		p.kill()
		return 0, fmt.Errorf("link clients: %v", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line))
	return n, errors.Join(err, p.cmd.Wait())
}

func (p *clientProcess) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

// linkClientsMain is the client process: ADDR K. It prints "ready" once K
// clients have registered and it runs at the idle scheduling class,
// counts their events until its stdin closes, then prints the count.
func linkClientsMain(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: compare -link-clients ADDR K")
		return 2
	}
	k, err := strconv.Atoi(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs, err := dialClients(ctx, args[0], k)
	if err == nil {
		err = idleClass()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	var wg sync.WaitGroup
	counts := make([]int, len(cs))
	for i, c := range cs {
		wg.Go(func() { counts[i] = c.count(ctx) })
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	cancel()
	closeClients(cs)
	wg.Wait()
	total := 0
	for _, n := range counts {
		total += n
	}
	fmt.Println(total)
	return 0
}

// idleClass moves every thread of this process to the idle scheduling
// class. The class is per thread: each is moved, and threads the runtime
// starts later inherit it from the thread that starts them, which is then
// one of these. A second pass catches a thread started during the first.
func idleClass() error {
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}
			if err := unix.SchedSetAttr(tid, &attr, 0); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("sched_setattr(%d, SCHED_IDLE): %w", tid, err)
			}
		}
	}
	return nil
}

// linkClient is one registered client of the live link.
type linkClient struct {
	c *websocket.Conn
}

// dialClients connects and registers k clients.
func dialClients(ctx context.Context, addr string, k int) ([]*linkClient, error) {
	var cs []*linkClient
	for range k {
		c, err := dialLink(ctx, addr)
		if err != nil {
			closeClients(cs)
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func dialLink(ctx context.Context, addr string) (*linkClient, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/api/socket", nil)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(16 << 20)
	lc := &linkClient{c: c}
	if _, err := lc.read(ctx); err != nil { // hello
		c.CloseNow()
		return nil, err
	}
	reg := `{"seq":1,"type":"register_control","data":{"token":"","agent":"bench","version":"1.0.0"}}`
	if err := c.Write(ctx, websocket.MessageText, []byte(reg)); err != nil {
		c.CloseNow()
		return nil, err
	}
	m, err := lc.read(ctx)
	if err == nil && m.Type != "ready" {
		err = fmt.Errorf("register_control: %s %s", m.Type, m.Data)
	}
	if err != nil {
		c.CloseNow()
		return nil, err
	}
	return lc, nil
}

// dialDashboard connects to the live link at addr as the dashboard's
// page does once loaded: registered, with the snapshot of every job
// (list_jobs_request) read. Nothing reads the connection afterwards, so
// that the client costs the measurement nothing.
func dialDashboard(ctx context.Context, addr string) (*linkClient, error) {
	lc, err := dialLink(ctx, addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req := `{"seq":2,"type":"list_jobs_request","data":{}}`
	if err := lc.c.Write(ctx, websocket.MessageText, []byte(req)); err != nil {
		lc.c.CloseNow()
		return nil, err
	}
	for {
		m, err := lc.read(ctx)
		if err != nil {
			lc.c.CloseNow()
			return nil, fmt.Errorf("list_jobs_request: %w", err)
		}
		if m.Type == "list_jobs_response" {
			return lc, nil
		}
	}
}

func closeClients(cs []*linkClient) {
	for _, c := range cs {
		c.c.CloseNow()
	}
}

type linkMessage struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

func (lc *linkClient) read(ctx context.Context) (*linkMessage, error) {
	_, b, err := lc.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	var m linkMessage
	return &m, json.Unmarshal(b, &m)
}

// collect returns the latency, in ms, of the next n job_update_events of
// job.
func (lc *linkClient) collect(ctx context.Context, job string, n int) []float64 {
	var out []float64
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for len(out) < n {
		m, err := lc.read(ctx)
		now := time.Now()
		if err != nil {
			return out
		}
		if m.Type != "job_update_event" {
			continue
		}
		var ev struct {
			Job  string    `json:"job"`
			Time time.Time `json:"time"`
		}
		if json.Unmarshal(m.Data, &ev) == nil && ev.Job == job {
			out = append(out, float64(now.Sub(ev.Time))/float64(time.Millisecond))
		}
	}
	return out
}

// count reads until ctx ends and returns how many events came.
func (lc *linkClient) count(ctx context.Context) int {
	n := 0
	for {
		m, err := lc.read(ctx)
		if err != nil {
			return n
		}
		if strings.HasSuffix(m.Type, "_event") {
			n++
		}
	}
}

// kib formats KiB.
func kib(k uint64) string {
	if k >= 10*1024 {
		return fmt.Sprintf("%.1f MiB", float64(k)/1024)
	}
	return fmt.Sprintf("%d KiB", k)
}

// procCost returns the CPU time pid's threads have used (from their
// schedstat, in ns) and the write-like system calls it has made (syscw of
// /proc/PID/io); zero for what cannot be read.
func procCost(pid int) (cpu time.Duration, writes uint64) {
	dir := "/proc/" + strconv.Itoa(pid)
	tasks, _ := os.ReadDir(dir + "/task")
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/task/" + t.Name() + "/schedstat")
		if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			cpu += time.Duration(ns)
		}
	}
	b, _ := os.ReadFile(dir + "/io")
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			writes, _ = strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return cpu, writes
}
