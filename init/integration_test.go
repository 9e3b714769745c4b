package pid1_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
	pid1 "github.com/taskmaster/taskmaster/init"
	"github.com/taskmaster/taskmaster/jobs/dirwatch"
)

// Knobs of the integration test.
const (
	// clients is how many goroutines, each with its own ctlproto.Client,
	// hammer the daemon.
	clients = 200
	// openConns bounds the connections open at once, by design below the
	// server's cap (ctlproto.DefaultMaxConns, 64): 200 clients share 56
	// slots, each dialling, sending a few requests and closing. A client
	// closes before it frees its slot, but the server forgets a connection
	// only once its goroutine has read the EOF, so on a loaded machine the
	// server may briefly count more than we hold; the 8 spare slots absorb
	// that. Should it still happen, the server's documented answers are
	// accepted and counted: fail "too many connections" as a newcomer's
	// first reply, or, for the idle connection closed to make room, fail
	// "evicted: too many connections" as the reply to the next request it
	// sends (a reply the test once took for that request's own, and then
	// failed on the EOF of the request after). Any other I/O error fails
	// the test.
	openConns = ctlproto.DefaultMaxConns - 8
	// mixFor is how long the clients run.
	mixFor = 3 * time.Second
	// requestTimeout bounds every request, to catch one that is never
	// answered. The slowest legitimate ones (stop all, with stoptime 1;
	// start of solo, with starttime 1) take about a second on a quiet
	// machine, but on a loaded one, under -race, requests queue behind
	// each other's reloads and stops for several seconds (6 s was seen to
	// run out on two busy cores).
	requestTimeout = 30 * time.Second
)

// The job files the daemon starts with. They never change: pull must
// answer their exact bytes. No umask: the umask helper re-execs
// /proc/self/exe, which is the test binary here.
var staticJobs = map[string]string{
	"sleepers": `{"cmd":["/bin/sleep","1000"],"numprocs":3,"starttime":0,"stoptime":1,"stdout":"discard","stderr":"discard"}`,
	"solo":     `{"cmd":["/bin/sh","-c","echo solo started; exec /bin/sleep 1000"],"stoptime":1,"stdout":"solo.out","stderr":"discard"}`,
	"flaky":    `{"cmd":["/bin/sh","-c","echo flaky; sleep 0.2; exit 1"],"autorestart":true,"starttime":0,"stoptime":1,"stdout":"flaky.out","stderr":"discard"}`,
	"manual":   `{"cmd":["/bin/sleep","1000"],"autostart":false,"stoptime":1,"stdout":"discard","stderr":"discard"}`,
}

// pushedVersions are the valid files clients push as pushed0..2, with the
// numprocs of each.
var pushedVersions = []pushedVersion{
	{`{"cmd":["/bin/sleep","1000"],"starttime":0,"stoptime":1,"stdout":"discard","stderr":"discard"}`, 1},
	{`{"cmd":["/bin/sleep","1000"],"numprocs":2,"autostart":false,"starttime":0,"stoptime":1,"stdout":"discard","stderr":"discard"}`, 2},
	{`{"cmd":["/bin/sleep","999"],"numprocs":3,"starttime":0,"stoptime":1,"stdout":"discard","stderr":"discard"}`, 3},
}

type pushedVersion struct {
	body     string
	numprocs int
}

// invalidFiles are job files push must refuse.
var invalidFiles = []string{
	`{"cmd":`,
	`{"cmd":["/bin/sleep","1000"],"numprocs":0}`,
	`{"cmdd":"/bin/sleep 1000"}`,
	`[]`,
}

var (
	pushedNames  = []string{"pushed0", "pushed1", "pushed2"}
	badNames     = []string{"all", "../evil", ".hidden", "a/b"}
	targets      = []string{"all", "sleepers", "sleepers:0", "sleepers:2", "sleepers:9", "solo", "flaky", "manual", "pushed0", "pushed1", "pushed2", "badpush", "nope"}
	fileNames    = []string{"sleepers", "solo", "flaky", "manual", "pushed0", "pushed1", "pushed2", "badpush", "nope"}
	tailTargets  = []string{"solo", "flaky", "sleepers:1", "sleepers", "manual", "nope"}
	waitStates   = []string{"RUNNING", "STOPPED", "STARTING", "BACKOFF", "STOPPING", "EXITED", "FATAL"}
	simpleOnJobs = []ctlproto.Command{ctlproto.CmdStart, ctlproto.CmdStop, ctlproto.CmdKill, ctlproto.CmdRepair}
)

// 200 clients send a random mix of every command to the real daemon, run in
// this process by pid1.Run, while its jobs start, stop, crash and restart.
// Every reply must be one the protocol allows for its command and well
// formed; the daemon must keep running until SIGTERM, then exit with 0 or 3
// and leave no goroutine and no child process behind.
func TestIntegrationConcurrentClients(t *testing.T) {
	// Watch off: only requests change the jobs, so the state after the mix
	// is what the requests made it. Inotify: reloads of the watcher run
	// beside the requests.
	for _, watch := range []dirwatch.Mode{dirwatch.Off, dirwatch.Inotify} {
		t.Run(string(watch), func(t *testing.T) { runIntegration(t, watch) })
	}
}

func runIntegration(t *testing.T, watch dirwatch.Mode) {
	d := startInProc(t, watch, staticJobs)
	awaitRunning(t, d.addr, "sleepers", 3)

	m := &mix{
		addr:  d.addr,
		tally: newTally(),
		sem:   make(chan struct{}, openConns),
		end:   time.Now().Add(mixFor),
	}
	m.static = map[string][]byte{}
	for name, body := range staticJobs {
		m.static[name] = []byte(body)
	}
	for _, v := range pushedVersions {
		m.pushed = append(m.pushed, []byte(v.body))
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d clients, %d connections at most, %v", seed, clients, openConns, mixFor)
	var wg sync.WaitGroup
	begin := time.Now()
	for i := range clients {
		wg.Go(func() { m.client(seed, i) })
	}
	wg.Wait()
	t.Logf("clients done after %v", time.Since(begin))
	m.tally.report(t)

	select {
	case c := <-d.code:
		d.code <- c
		t.Fatalf("the daemon stopped during the mix, exit code %d", c)
	default:
	}
	checkConsistent(t, d.addr, d.dir)

	stopping := time.Now()
	code := d.shutdown()
	t.Logf("Run returned %d, %v after SIGTERM", code, time.Since(stopping))
	require.Contains(t, []int{pid1.ExitOK, pid1.ExitKilled}, code, "exit code after SIGTERM")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if c, err := ctlproto.Dial(ctx, d.addr, ""); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Run returned", d.addr)
	}
	require.Empty(t, children(), "child processes left after Run returned (pid: state and stat)")
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > d.baseline {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines leaked: %d now, %d before Run:\n%s", runtime.NumGoroutine(), d.baseline, allStacks())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A stop answers once the processes it stopped are gone, even when another
// client asks for a start meanwhile: the stop must not wait for a state
// that the start undid (docs/taskmasterctl.md: stop returns once the
// processes have stopped).
func TestIntegrationStopRepliesWhenAStartFollows(t *testing.T) {
	d := startInProc(t, dirwatch.Off, map[string]string{
		// Ignores SIGTERM: STOPPING lasts its stoptime, then SIGKILL.
		// Its output goes to a file (relative: next to the job file), and
		// so to the buffer tail reads.
		"stubborn": `{"cmd":["/bin/sh","-c","trap '' TERM; echo ready; exec /bin/sleep 1000"],"starttime":0,"stoptime":1,"stdout":"stubborn.out","stderr":"discard"}`,
	})
	awaitOutput(t, d.addr, "stubborn", "ready") // SIGTERM is ignored from now on
	stopped := make(chan string, 1)
	go func() {
		// stoptime 1, then SIGKILL: a second is enough; 5 is generous.
		resp, err := request(d.addr, &ctlproto.Request{Command: ctlproto.CmdStop, Job: "stubborn"}, 5*time.Second)
		stopped <- describe(resp, err)
	}()
	awaitState(t, d.addr, "stubborn", "STOPPING")
	resp, err := request(d.addr, &ctlproto.Request{Command: ctlproto.CmdStart, Job: "stubborn"}, 10*time.Second)
	require.Equal(t, "success", describe(resp, err), "start while STOPPING")
	require.Equal(t, "success", <-stopped, "the stop, after its process was SIGKILLed and a start followed")
	require.Contains(t, []int{pid1.ExitOK, pid1.ExitKilled}, d.shutdown())
}

// describe is a reply's kind, with its error if any, or the I/O error.
func describe(resp *ctlproto.Response, err error) string {
	switch {
	case err != nil:
		return "I/O error: " + err.Error()
	case resp.Error != "":
		return string(resp.Kind) + ": " + resp.Error
	}
	return string(resp.Kind)
}

// inProc is taskmasterd run by pid1.Run in the test process.
type inProc struct {
	t        *testing.T
	addr     string
	dir      string
	sigs     *pid1.Signals
	code     chan int // Run's exit code, put back by whoever reads it
	baseline int      // goroutines before Run
}

// startInProc writes jobs into a new jobs directory and runs pid1.Run on it
// in a goroutine, with signals the test delivers: real SIGCHLDs, and the
// others written to sigs.Other. The control server listens on a port of
// the kernel's choosing, which the log tells.
func startInProc(t *testing.T, watch dirwatch.Mode, jobs map[string]string) *inProc {
	t.Helper()
	logs := newTestLog(t)
	t.Cleanup(logs.close) // first registered, so it runs last
	child := make(chan os.Signal, 1)
	signal.Notify(child, syscall.SIGCHLD)
	t.Cleanup(func() { signal.Stop(child) })
	d := &inProc{
		t:    t,
		dir:  t.TempDir(),
		sigs: &pid1.Signals{Child: child, Other: make(chan os.Signal, 4)},
		code: make(chan int, 1),
		// After Notify, whose signal-loop goroutine stays for good.
		baseline: runtime.NumGoroutine(),
	}
	for name, body := range jobs {
		require.NoError(t, os.WriteFile(filepath.Join(d.dir, name+".tm.json"), []byte(body), 0o644))
	}
	cfg := pid1.Config{
		JobsDir:  d.dir,
		LoadJobs: true,
		Watch:    watch,
		Grace:    time.Second,
		StateDir: t.TempDir(),
		Control:  pid1.ControlConfig{Listen: "127.0.0.1:0"},
		Logger:   slog.New(logs),
	}
	go func() { d.code <- pid1.Run(cfg, d.sigs) }()
	t.Cleanup(d.stopAfterFailure)
	select {
	case d.addr = <-logs.addr:
	case c := <-d.code:
		d.code <- c
		t.Fatalf("Run returned %d before listening", c)
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon never logged its control address")
	}
	return d
}

// shutdown sends SIGTERM and returns Run's exit code.
func (d *inProc) shutdown() int {
	d.t.Helper()
	d.sigs.Other <- syscall.SIGTERM
	select {
	case c := <-d.code:
		d.code <- c
		return c
	case <-time.After(20 * time.Second):
		d.t.Fatalf("Run did not return within 20s of SIGTERM; goroutines:\n%s", allStacks())
		return -1
	}
}

// stopAfterFailure ends a daemon that a failed test left running, so that
// it cannot outlive its test, and kills what it leaves.
func (d *inProc) stopAfterFailure() {
	select {
	case c := <-d.code:
		d.code <- c
		return
	default:
	}
	d.sigs.Other <- syscall.SIGTERM
	d.sigs.Other <- syscall.SIGTERM // the second one skips the grace periods
	select {
	case c := <-d.code:
		d.code <- c
	case <-time.After(20 * time.Second):
		d.t.Errorf("Run did not return within 20s of two SIGTERMs")
	}
	for pid := range children() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// request sends one request on a connection of its own.
func request(addr string, req *ctlproto.Request, timeout time.Duration) (*ctlproto.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := ctlproto.Dial(ctx, addr, "")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Do(ctx, req)
}

// statusOf asks the daemon for the status of one job.
func statusOf(addr, job string) (statusJob, error) {
	var st statusJob
	resp, err := request(addr, &ctlproto.Request{Command: ctlproto.CmdStatus, Job: job}, requestTimeout)
	if err != nil {
		return st, err
	}
	if resp.Kind != ctlproto.KindStatus {
		return st, fmt.Errorf("%s: %s", resp.Kind, resp.Error)
	}
	err = json.Unmarshal(resp.Data, &st)
	return st, err
}

// awaitRunning waits until job has n processes, all RUNNING.
func awaitRunning(t *testing.T, addr, job string, n int) {
	t.Helper()
	awaitStatus(t, addr, job, func(st statusJob) bool {
		return len(st.Processes) == n && !slices.ContainsFunc(st.Processes, func(p statusProcess) bool { return p.State != "RUNNING" })
	})
}

// awaitOutput waits until the recent output of target holds text.
func awaitOutput(t *testing.T, addr, target, text string) {
	t.Helper()
	var last string
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := request(addr, &ctlproto.Request{Command: ctlproto.CmdTail, Job: target}, requestTimeout)
		var d tailData
		if err == nil && resp.Kind == ctlproto.KindFile && json.Unmarshal(resp.Data, &d) == nil && d.Output != nil {
			if bytes.Contains(*d.Output, []byte(text)) {
				return
			}
			last = string(*d.Output)
		}
		if time.Now().After(deadline) {
			st, serr := statusOf(addr, target)
			t.Fatalf("%s never wrote %q; its output: %q (%s); its status: %+v (%v)", target, text, last, describe(resp, err), st, serr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// awaitState waits until every process of job is in state.
func awaitState(t *testing.T, addr, job, state string) {
	t.Helper()
	awaitStatus(t, addr, job, func(st statusJob) bool {
		return len(st.Processes) > 0 && !slices.ContainsFunc(st.Processes, func(p statusProcess) bool { return p.State != state })
	})
}

func awaitStatus(t *testing.T, addr, job string, cond func(statusJob) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := statusOf(addr, job)
		if err == nil && cond(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status never as wanted; last %+v (%v)", job, st, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkConsistent checks, once the clients are done, that what the daemon
// runs is what the jobs directory holds: every pushed file that is on disk
// is loaded with its numprocs; refused pushes wrote nothing.
func checkConsistent(t *testing.T, addr, dir string) {
	t.Helper()
	for name, body := range staticJobs {
		got, err := os.ReadFile(filepath.Join(dir, name+".tm.json"))
		require.NoError(t, err)
		require.Equal(t, body, string(got), "%s.tm.json changed", name)
	}
	for _, name := range append([]string{"badpush", "evil", ".hidden"}, badNames...) {
		require.NoFileExists(t, filepath.Join(dir, name+".tm.json"), "a refused push wrote a file")
	}
	require.NoFileExists(t, filepath.Join(filepath.Dir(dir), "evil.tm.json"), "push ../evil wrote outside the jobs directory")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.False(t, e.Name()[0] == '.', "temporary file %s left in the jobs directory", e.Name())
	}
	for _, name := range pushedNames {
		body, err := os.ReadFile(filepath.Join(dir, name+".tm.json"))
		if errors.Is(err, os.ErrNotExist) {
			continue // never pushed
		}
		require.NoError(t, err)
		i := slices.IndexFunc(pushedVersions, func(v pushedVersion) bool { return v.body == string(body) })
		require.GreaterOrEqual(t, i, 0, "%s.tm.json holds %q, never pushed", name, body)
		want := pushedVersions[i].numprocs
		var st statusJob
		// The last reload may still be queued behind the mix's requests
		// (seconds on a loaded machine, as for requestTimeout).
		deadline := time.Now().Add(requestTimeout)
		for {
			st, err = statusOf(addr, name)
			if err == nil && len(st.Processes) == want && st.Error == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: the file on disk has numprocs %d (version %d) but the daemon runs %+v (%v): a reload applied an older read of the directory?",
					name, want, i, st, err)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// mix is the random workload the clients share.
type mix struct {
	addr   string
	static map[string][]byte // the static job files, by name
	pushed [][]byte          // the valid versions of pushed files
	tally  *tally
	sem    chan struct{} // one slot per open connection
	end    time.Time
}

// client runs one client until the mix ends: take a connection slot, dial,
// send a few requests, close, again.
func (m *mix) client(seed uint64, id int) {
	rng := rand.New(rand.NewPCG(seed, uint64(id)))
	for time.Now().Before(m.end) {
		m.sem <- struct{}{}
		m.session(rng)
		<-m.sem
	}
}

func (m *mix) session(rng *rand.Rand) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	c, err := ctlproto.Dial(ctx, m.addr, "")
	cancel()
	if err != nil {
		m.tally.problem("dial failed", "dial: %v", err)
		return
	}
	defer c.Close()
	n := 1 + rng.IntN(6)
	for i := 0; i < n && time.Now().Before(m.end); i++ {
		req, valid := m.request(rng)
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		start := time.Now()
		resp, err := c.Do(ctx, req)
		cancel()
		if err != nil {
			m.tally.problem(fmt.Sprintf("%s: I/O error", req.Command), "%s %q %s (request %d on its connection): after %v: %v",
				req.Command, req.Job, req.Data, i+1, time.Since(start), err)
			return
		}
		if resp.Kind == ctlproto.KindFail && resp.Error == evicted {
			m.tally.count("(connection)", evicted)
			return // the server closed it: dial again
		}
		if resp.Kind == ctlproto.KindFail && resp.Error == tooManyConns {
			m.tally.count("(connection)", tooManyConns)
			if i > 0 {
				m.tally.problem("too many connections on an established connection",
					"%s %q: %q on a connection that had been answered %d times", req.Command, req.Job, tooManyConns, i)
			}
			return // the server closes it: dial again
		}
		m.tally.count(req.Command, string(resp.Kind))
		if err := checkReply(req, resp, m.static, m.pushed); err != nil {
			kind := fmt.Sprintf("%s: malformed or wrong reply", req.Command)
			if ke, ok := errors.AsType[*kindError](err); ok {
				kind = fmt.Sprintf("%s: reply %s not allowed by docs/protocol.md", ke.cmd, ke.kind)
			}
			m.tally.problem(kind, "%v", err)
		}
		if req.Command == ctlproto.CmdPush {
			if valid && resp.Kind != ctlproto.KindSuccess {
				m.tally.problem("push: valid file refused", "push %s of a valid file: %s %q", req.Job, resp.Kind, resp.Error)
			}
			if !valid && resp.Kind != ctlproto.KindFail {
				m.tally.problem("push: invalid file or name accepted", "push %s of %q: %s, want fail", req.Job, req.Data, resp.Kind)
			}
		}
	}
}

// request returns a random request, and for push whether it should be
// accepted.
func (m *mix) request(rng *rand.Rand) (*ctlproto.Request, bool) {
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	switch n := rng.IntN(20); {
	case n < 4:
		job := pick(targets)
		if rng.IntN(3) == 0 {
			job = ""
		}
		return &ctlproto.Request{Command: ctlproto.CmdStatus, Job: job}, true
	case n < 6:
		return &ctlproto.Request{Command: ctlproto.CmdList}, true
	case n < 10:
		cmd := simpleOnJobs[rng.IntN(len(simpleOnJobs))]
		return &ctlproto.Request{Command: cmd, Job: pick(targets)}, true
	case n < 11:
		return &ctlproto.Request{Command: ctlproto.CmdRestart}, true
	case n < 12:
		return &ctlproto.Request{Command: ctlproto.CmdPull, Job: pick(fileNames)}, true
	case n < 14:
		return m.push(rng)
	case n < 15:
		return &ctlproto.Request{Command: ctlproto.CmdReload, Job: pick(fileNames)}, true
	case n < 17:
		var data []byte
		switch rng.IntN(3) {
		case 1:
			data = []byte(`{"after":0}`)
		case 2:
			data = fmt.Appendf(nil, `{"after":%d,"follow":true,"timeout_ms":%d}`, rng.IntN(400), 10+rng.IntN(100))
		}
		return &ctlproto.Request{Command: ctlproto.CmdTail, Job: pick(tailTargets), Data: data}, true
	default:
		data := fmt.Appendf(nil, `{"state":%q,"timeout_ms":%d}`, pick(waitStates), 10+rng.IntN(200))
		return &ctlproto.Request{Command: ctlproto.CmdWait, Job: pick(targets), Data: data}, true
	}
}

func (m *mix) push(rng *rand.Rand) (*ctlproto.Request, bool) {
	valid := m.pushed[rng.IntN(len(m.pushed))]
	invalid := []byte(invalidFiles[rng.IntN(len(invalidFiles))])
	switch rng.IntN(4) {
	case 0, 1:
		return &ctlproto.Request{Command: ctlproto.CmdPush, Job: pushedNames[rng.IntN(len(pushedNames))], Data: valid}, true
	case 2:
		job := "badpush"
		if rng.IntN(2) == 0 {
			job = pushedNames[rng.IntN(len(pushedNames))]
		}
		return &ctlproto.Request{Command: ctlproto.CmdPush, Job: job, Data: invalid}, false
	}
	return &ctlproto.Request{Command: ctlproto.CmdPush, Job: badNames[rng.IntN(len(badNames))], Data: valid}, false
}
