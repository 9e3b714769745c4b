package jobs

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/taskmaster/taskmaster/jobs/jobfile"
	"github.com/taskmaster/taskmaster/reaper"
)

// fakeClock is a Clock whose time moves only when a test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	when    time.Time
	f       func()
	stopped bool
	fired   bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, when: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped && !t.fired
	t.stopped = true
	return was
}

// Advance moves time forward by d and runs, in time order, the timers that
// come due; it returns how many ran.
func (c *fakeClock) Advance(d time.Duration) int {
	c.mu.Lock()
	end := c.now.Add(d)
	var due []*fakeTimer
	for _, t := range c.timers {
		if !t.stopped && !t.fired && !t.when.After(end) {
			t.fired = true
			due = append(due, t)
		}
	}
	sort.SliceStable(due, func(i, j int) bool { return due[i].when.Before(due[j].when) })
	c.now = end
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
	return len(due)
}

// pending returns the delays of the timers not yet fired or stopped.
func (c *fakeClock) pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for _, t := range c.timers {
		if !t.stopped && !t.fired {
			out = append(out, t.when.Sub(c.now))
		}
	}
	return out
}

// fakeRT is the runtime of the instance state machine in table tests.
type fakeRT struct {
	clock     *fakeClock
	nextPid   int
	spawnErr  error
	spawned   []string
	signals   []sent
	alive     map[int]bool // process groups with members left
	stopping  bool         // taskmasterd is shutting down
	leftovers []int        // groups handed over to be stopped after their leader ended
	changes   []State      // the states observers were told of, in order
	hold      bool         // keep each start under way until finishLaunches
	held      []*instance  // the starts kept under way
}

type sent struct {
	pgid int
	sig  syscall.Signal
}

func newFakeRT() *fakeRT {
	return &fakeRT{clock: newFakeClock(), nextPid: 100, alive: map[int]bool{}}
}

func (rt *fakeRT) now() time.Time { return rt.clock.Now() }

// launch makes the start at once, as if the launcher had been quick, or
// (hold) keeps it under way until finishLaunches.
func (rt *fakeRT) launch(in *instance) {
	if rt.hold {
		rt.held = append(rt.held, in)
		return
	}
	if rt.spawnErr != nil {
		in.launched(rt, 0, rt.spawnErr)
		return
	}
	rt.nextPid++
	rt.spawned = append(rt.spawned, in.name)
	in.launched(rt, rt.nextPid, nil)
}

func (rt *fakeRT) signalGroup(pgid int, sig syscall.Signal) {
	if pgid <= 0 {
		return // no process group (yet), as Supervisor.signalGroup ignores it
	}
	rt.signals = append(rt.signals, sent{pgid, sig})
}

func (rt *fakeRT) groupAlive(pgid int) bool { return rt.alive[pgid] }

func (rt *fakeRT) stopLeftovers(_ *instance, pgid int) { rt.leftovers = append(rt.leftovers, pgid) }

func (rt *fakeRT) schedule(in *instance, seq uint64, d time.Duration) Timer {
	return rt.clock.AfterFunc(d, func() { in.timerFired(rt, seq) })
}

// finishLaunches tells the starts kept under way their outcome.
func (rt *fakeRT) finishLaunches() {
	held := rt.held
	rt.held, rt.hold = nil, false
	for _, in := range held {
		rt.launch(in)
	}
}

func (rt *fakeRT) changed(in *instance, _ State) { rt.changes = append(rt.changes, in.state) }

func (rt *fakeRT) mayRestart(*instance) bool { return !rt.stopping }

// fakeStarter stands in for real processes in supervisor tests: each start
// gets a pid, and the test decides when it exits. A process may leave a
// child in its group (leaveChild), which outlives it until a signal to the
// group ends it; its end is "reaped" and told on reaped, as the reaper's
// Subscribe does.
type fakeStarter struct {
	mu       sync.Mutex
	nextPid  int
	procs    map[int]func(reaper.Exit) // the onExit of each live process
	started  []string                  // instance names, in start order
	fail     map[string]error
	signals  []sent
	ignoring map[int]bool
	children map[int]bool // process groups with a child left in them, by pgid
	stubborn map[int]bool // groups whose child ignores every signal but SIGKILL
	reaped   chan struct{}
	watched  bool             // the Supervisor is subscribed to reaped (reaps)
	last     map[string]*Proc // the last Proc each instance was started with
	checks   []*fakeCheck     // exec checks started (checks_test.go)
	gate     chan struct{}    // when set, each Start waits for a value (or its closing) first
	quick    map[string]int   // jobs whose processes exit, with this code, before Start returns
}

func newFakeStarter() *fakeStarter {
	return &fakeStarter{
		nextPid: 1000, procs: map[int]func(reaper.Exit){}, fail: map[string]error{}, ignoring: map[int]bool{},
		children: map[int]bool{}, stubborn: map[int]bool{}, reaped: make(chan struct{}, 1),
	}
}

// reaps is the Supervisor's Config.Reaps: as with the reaper's Subscribe,
// ends are told only while subscribed.
func (f *fakeStarter) reaps() (<-chan struct{}, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watched = true
	return f.reaped, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.watched = false
	}
}

// isWatched reports whether the Supervisor is subscribed to reaped.
func (f *fakeStarter) isWatched() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.watched
}

// leaveChild puts a child in the group of process pgid, which outlives the
// process; stubborn makes it ignore every signal but SIGKILL.
func (f *fakeStarter) leaveChild(pgid int, stubborn bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.children[pgid], f.stubborn[pgid] = true, stubborn
}

// childAlive reports whether the child left in group pgid lives.
func (f *fakeStarter) childAlive(pgid int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.children[pgid]
}

// holdStarts makes every Start wait until the returned channel is closed
// (or given a value).
func (f *fakeStarter) holdStarts() chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gate = make(chan struct{})
	return f.gate
}

func (f *fakeStarter) Start(p *Proc, onExit func(reaper.Exit)) (int, error) {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		<-gate // as a fork waits for the child's exec on a busy machine
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if code, ok := f.quick[p.Spec.Name]; ok {
		// Reaped before Start returns, as the reaper may once it has the pid.
		f.nextPid++
		f.started = append(f.started, p.Name)
		onExit(reaper.Exit{Pid: f.nextPid, Status: exitStatus(code)})
		return f.nextPid, nil
	}
	if err := f.fail[p.Spec.Name]; err != nil {
		return 0, err
	}
	f.nextPid++
	f.procs[f.nextPid] = onExit
	f.started = append(f.started, p.Name)
	f.keep(p)
	if p.Point != nil {
		p.Point.NewProcess(nil).Begin() // clients may attach (it writes nothing)
	}
	return f.nextPid, nil
}

// exit makes process pid end with ws.
func (f *fakeStarter) exit(pid int, ws syscall.WaitStatus) {
	f.mu.Lock()
	onExit := f.procs[pid]
	delete(f.procs, pid)
	f.mu.Unlock()
	if onExit != nil {
		onExit(reaper.Exit{Pid: pid, Status: ws})
	}
}

func (f *fakeStarter) startedNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.started...)
}

// exitStatus builds a wait status for an exit code.
func exitStatus(code int) syscall.WaitStatus { return syscall.WaitStatus(code << 8) }

// signalStatus builds a wait status for a death by signal.
func signalStatus(sig syscall.Signal) syscall.WaitStatus { return syscall.WaitStatus(sig) }

// testSpec returns a valid spec with the defaults of a job file.
func testSpec(name string) *jobfile.Spec {
	return &jobfile.Spec{
		Name: name, Cmd: []string{"/bin/true"}, NumProcs: 1, Umask: -1,
		AutoStart: true, AutoRestart: jobfile.RestartUnexpected, ExitCodes: []int{0},
		StartRetries: 3, StartTime: time.Second, StopSignal: syscall.SIGTERM, StopTime: 5 * time.Second,
	}
}

var errSpawn = errors.New("spawn failed")

// Kill fakes kill(2) for the fake processes: signal 0 probes, and a signal
// other than 0 ends the process unless the test made it ignore signals. A
// negative pid is a group: the process and the child it left, if any.
func (f *fakeStarter) Kill(pid int, sig syscall.Signal) error {
	group := pid < 0
	if group {
		pid = -pid
	}
	f.mu.Lock()
	_, alive := f.procs[pid]
	ignores := f.ignoring[pid] && sig != syscall.SIGKILL
	child := group && f.children[pid]
	childEnds := child && sig != 0 && (sig == syscall.SIGKILL || !f.stubborn[pid])
	if childEnds {
		delete(f.children, pid)
	}
	f.signals = append(f.signals, sent{pid, sig})
	watched := f.watched
	f.mu.Unlock()
	if childEnds && watched {
		select { // reaped, as an orphan of taskmasterd's
		case f.reaped <- struct{}{}:
		default:
		}
	}
	if !alive {
		if child {
			return nil
		}
		return syscall.ESRCH
	}
	if sig != 0 && !ignores {
		f.exit(pid, signalStatus(sig))
	}
	return nil
}

func (f *fakeStarter) ignore(pid int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ignoring[pid] = true
}

func (f *fakeStarter) sentSignals() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.signals...)
}

// fakeRecorder records what the supervisor tells its Recorder, as lines
// like "start web:0 1001 SIGTERM 5s" and "end 1001".
type fakeRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *fakeRecorder) Started(instance string, pid int, sig syscall.Signal, stopTime time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf("start %s %d %s %v", instance, pid, jobfile.SignalName(sig), stopTime))
}

func (r *fakeRecorder) Ended(pid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf("end %d", pid))
}

func (r *fakeRecorder) recorded() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}
