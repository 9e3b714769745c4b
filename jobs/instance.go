package jobs

import (
	"fmt"
	"syscall"
	"time"

	"github.com/taskmaster/taskmaster/jobs/attach"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
	"github.com/taskmaster/taskmaster/jobs/output"
)

// Retry timing. A process that dies before it counts as started is retried
// after backoffDelay(n) for its n-th consecutive failure. A process that
// exits less than stableUptime after it started counts as a failed start
// even when starttime is 0, so a crash loop always slows down and ends in
// FATAL (supervisord restarts such a loop forever: its issue 1285).
const (
	backoffBase  = 250 * time.Millisecond
	backoffMax   = 30 * time.Second
	stableUptime = time.Second
)

// killGrace is how long a SIGKILLed process group gets to disappear. SIGKILL
// cannot be caught, so only a process stuck in the kernel, or group members
// whose end taskmasterd cannot see, outlast it; the instance then counts as
// stopped anyway, so that no stop waits forever.
const killGrace = 2 * time.Second

func backoffDelay(failures int) time.Duration {
	d := backoffBase
	for i := 1; i < failures && d < backoffMax; i++ {
		d *= 2
	}
	return min(d, backoffMax)
}

// runtime is what the state machine needs from the world. The supervisor
// implements it with real processes and timers; tests fake it.
type runtime interface {
	now() time.Time
	// launch starts a process for in with in.spec, now or later, and
	// tells in.launched the outcome (launch.go).
	launch(in *instance)
	// signalGroup sends sig to the process group pgid.
	signalGroup(pgid int, sig syscall.Signal)
	// groupAlive reports whether any process is left in group pgid.
	groupAlive(pgid int) bool
	// stopLeftovers is told that the process of in that led group pgid
	// ended on its own: whatever is left of the group gets in's stopsignal,
	// then SIGKILL after its stoptime, apart from the instance, whose next
	// process (a new group) need not wait for it.
	stopLeftovers(in *instance, pgid int)
	// schedule delivers a timer event carrying seq to in after d.
	schedule(in *instance, seq uint64, d time.Duration) Timer
	// changed is told of every state change, and of a new process or a new
	// reason in the same state, for the log.
	changed(in *instance, from State)
	// mayRestart reports whether in may be started again on its own (a
	// retry or an autorestart): not while taskmasterd shuts down, nor once
	// the instance or its job is on its way out.
	mayRestart(in *instance) bool
}

// exitInfo is how a process ended.
type exitInfo struct {
	code   int            // exit code, or 128+n when killed by signal n, or 126/127 for spawn errors
	signal syscall.Signal // the signal that killed it, or 0
}

// instance is one process slot of a job (NAME:N) and its state machine.
// Only the supervisor goroutine touches it.
type instance struct {
	job   *job
	index int
	name  string

	spec     *jobfile.Spec // the spec the current (or last) process was started with
	state    State
	since    time.Time
	detail   string // why the instance is in its state, for status
	pid      int    // the process, while it lives
	gen      uint64 // how many starts it has tried: tells one process from the next
	pgid     int    // its process group, kept while STOPPING after the leader exited
	started  time.Time
	failures int // consecutive failed starts
	restarts int // automatic restarts (retries and autorestarts)
	exit     *exitInfo
	ring     *output.Ring  // recent output, kept across restarts
	point    *attach.Point // where clients attach to its process, kept across restarts

	timer    Timer
	timerSeq uint64 // timer events carrying an older seq are stale

	pending    bool // a start was asked for; it spawns once dependencies are RUNNING
	restartDue bool // start again when the current stop completes
	killed     bool // the current stop needed SIGKILL
	leaderGone bool // STOPPING: the leader exited, others in its group live on
	retire     bool // forget the instance once it has no process

	// A start under way (launch.go): STARTING with no pid until launched.
	launching    bool
	untold       bool   // observers have not been told of it: they last saw
	fromState    State  // this state,
	fromDetail   string // with this detail
	earlyReady   string // how the process proved ready before its start was known
	countRestart bool   // the start is a restart, to count with its outcome

	ready   *jobfile.Probe // the ready check of the current process (its spec's when it started); nil: starttime
	then    afterStop      // what follows the stop under way, when the instance asked for it itself
	thenWhy string         // why it did
	chk     checks         // what its checks know of its process (the supervisor's: checks.go)
}

// set moves the instance to state s, saying why in detail. Every move that
// changes the state or its reason is logged, so that a user reading the log
// learns why each one happened.
func (in *instance) set(rt runtime, s State, detail string) {
	from, fromDetail := in.told()
	in.untold = false
	in.state, in.detail, in.since = s, detail, rt.now()
	if s != from || detail != fromDetail {
		rt.changed(in, from)
	}
}

// told returns the state and detail observers were last told of, which
// status and snapshots show: a start under way is told with its outcome
// (launch.go), so that a snapshot followed by the events after it is the
// state.
func (in *instance) told() (State, string) {
	if in.untold {
		return in.fromState, in.fromDetail
	}
	return in.state, in.detail
}

// waitState is the state that requests waiting for the jobs to reach one
// judge (start, wait, depends_on): the internal state, but for the restart
// of a RUNNING instance that will be RUNNING again at once ("starttime": 0,
// no ready check), which is RUNNING throughout, as it was when starts were
// made on Run. Otherwise one instance in a crash loop would keep a start
// of all of them waiting until, by chance, none was being restarted.
func (in *instance) waitState() State {
	if in.launching && in.untold && in.fromState == Running && in.ready == nil && in.spec.StartTime <= 0 {
		return Running
	}
	return in.state
}

func (in *instance) cancelTimer() {
	in.timerSeq++
	if in.timer != nil {
		in.timer.Stop()
		in.timer = nil
	}
}

func (in *instance) arm(rt runtime, d time.Duration) {
	in.cancelTimer()
	in.timer = rt.schedule(in, in.timerSeq, d)
}

// requestStart asks for a start; the supervisor spawns it once the job's
// dependencies allow. It reports false when the instance already runs.
func (in *instance) requestStart() bool {
	switch in.state {
	case Starting, Running:
		return false
	case Stopping:
		in.restartDue = true
		return true
	}
	in.setPending()
	return true
}

// setPending makes the instance wait for settle to start it.
func (in *instance) setPending() {
	in.pending = true
	in.job.mayStart = true
}

// start spawns a process for a pending start.
func (in *instance) start(rt runtime) {
	in.pending = false
	in.cancelTimer()
	in.failures = 0
	in.spawn(rt, "", false)
}

// restart spawns a process on the instance's own (a retry or an
// autorestart) and counts it; why says what caused it, for the log.
func (in *instance) restart(rt runtime, why string) {
	in.spawn(rt, fmt.Sprintf("%s (restart %d)", why, in.restarts+1), true)
}

// spawn starts a process; why is the detail of the state it enters ("" for
// a start that was asked for), and restart says whether it is a restart,
// which is counted once the start's outcome is told (launched), so that
// status never shows the count of a restart beside the state before it. The instance is STARTING with no pid until
// the start's outcome comes (launched); observers are told then.
func (in *instance) spawn(rt runtime, why string, restart bool) {
	in.cancelTimer()
	in.spec = in.job.spec
	in.ready = in.spec.Ready
	in.gen++
	in.pid, in.pgid = 0, 0
	in.killed, in.leaderGone = false, false
	in.fromState, in.fromDetail = in.state, in.detail // told: no start is under way
	in.launching, in.untold, in.earlyReady, in.countRestart = true, true, "", restart
	in.state, in.detail = Starting, why
	rt.launch(in) // may call launched before it returns: nothing may follow it here
}

// launched handles the outcome of the start of in's process: its pid, or
// why it could not start.
func (in *instance) launched(rt runtime, pid int, err error) {
	in.launching = false
	if in.countRestart {
		in.countRestart = false
		in.restarts++
		in.job.stats.Restarts++
	}
	if in.state == Stopping {
		in.launchedWhileStopping(rt, pid, err)
		return
	}
	why := in.detail
	if err != nil {
		in.exit = &exitInfo{code: spawnErrorCode(err)}
		in.failedStart(rt, err.Error())
		return
	}
	in.pid, in.pgid, in.started = pid, pid, rt.now()
	if in.ready == nil && in.spec.StartTime <= 0 {
		in.set(rt, Running, why)
		return
	}
	in.set(rt, Starting, why)
	switch {
	case in.ready == nil:
		in.arm(rt, in.spec.StartTime)
	case in.ready.Deadline > 0:
		in.arm(rt, in.ready.Deadline) // until then, its checks decide (ready.go)
	}
	if in.earlyReady != "" {
		in.becomeReady(rt, in.earlyReady)
	}
}

// launchedWhileStopping handles the outcome of a start that a stop (or a
// kill) overtook: the signal it could not send yet goes now.
func (in *instance) launchedWhileStopping(rt runtime, pid int, err error) {
	if err != nil {
		in.exit = &exitInfo{code: spawnErrorCode(err)}
		in.finishStop(rt)
		return
	}
	in.pid, in.pgid, in.started = pid, pid, rt.now()
	sig := in.spec.StopSignal
	if in.killed {
		sig = syscall.SIGKILL
	}
	rt.signalGroup(pid, sig)
}

// failedStart counts a start that did not hold and schedules a retry, or
// gives up.
func (in *instance) failedStart(rt runtime, why string) {
	in.failures++
	if in.failures > in.spec.StartRetries {
		in.cancelTimer()
		in.set(rt, Fatal, fmt.Sprintf("%s; gave up after %d attempts", why, in.failures))
		return
	}
	if !rt.mayRestart(in) {
		in.cancelTimer()
		in.set(rt, Stopped, why+"; not retried: stopping")
		return
	}
	delay := backoffDelay(in.failures)
	in.set(rt, Backoff, fmt.Sprintf("%s; retry %d of %d in %v", why, in.failures, in.spec.StartRetries, delay))
	in.arm(rt, delay)
}

// exited handles the end of the instance's process.
func (in *instance) exited(rt runtime, ws syscall.WaitStatus) {
	in.exit = exitFromStatus(ws)
	in.pid = 0
	switch in.state {
	case Starting:
		in.leaveGroup(rt)
		in.cancelTimer()
		how := "exited too quickly"
		if in.ready != nil {
			how = "exited before it was ready"
		}
		in.failedStart(rt, how+" ("+in.exit.String()+")")
	case Running:
		in.leaveGroup(rt)
		in.exitedWhileRunning(rt)
	case Stopping:
		if rt.groupAlive(in.pgid) {
			in.leaderGone = true // the rest of the group gets until the timer
			return
		}
		in.finishStop(rt)
	}
}

// leaveGroup lets go of the process group of a process that ended on its
// own. With "leftovers": "stop", what is left of the group (children the
// process did not wait for) is stopped beside the instance: a restart does
// not wait for it, since the next process leads a group of its own.
func (in *instance) leaveGroup(rt runtime) {
	pgid := in.pgid
	in.pgid = 0
	if pgid > 0 && in.spec.Leftovers == jobfile.LeftoversStop {
		rt.stopLeftovers(in, pgid)
	}
}

func (in *instance) exitedWhileRunning(rt runtime) {
	expected := in.expected()
	if !in.shouldRestart(expected) {
		how := "unexpected"
		if expected {
			how = "expected"
		}
		in.set(rt, Exited, in.exit.String()+", "+how)
		return
	}
	if !rt.mayRestart(in) {
		// It would have been restarted: not an end of its own (which would
		// end taskmasterd for a critical job), just one a stop came first to.
		in.set(rt, Stopped, in.exit.String()+"; not restarted: stopping")
		return
	}
	if uptime := rt.now().Sub(in.started); uptime < stableUptime {
		in.failedStart(rt, fmt.Sprintf("exited after %v (%s)", uptime.Round(time.Millisecond), in.exit))
		return
	}
	in.failures = 0
	in.restart(rt, "restarted after "+in.exit.String())
}

func (in *instance) expected() bool {
	if in.exit.signal != 0 {
		return false
	}
	for _, c := range in.spec.ExitCodes {
		if c == in.exit.code {
			return true
		}
	}
	return false
}

func (in *instance) shouldRestart(expected bool) bool {
	switch in.spec.AutoRestart {
	case jobfile.RestartAlways:
		return true
	case jobfile.RestartNever:
		return false
	default:
		return !expected
	}
}

// timerFired handles the instance's timer: starttime, a retry delay, or
// stoptime, depending on the state.
func (in *instance) timerFired(rt runtime, seq uint64) {
	if seq != in.timerSeq {
		return // cancelled or replaced after it fired
	}
	in.timer = nil
	switch in.state {
	case Starting:
		if in.ready != nil {
			in.notReady(rt, in.chk.lastError)
			return
		}
		in.set(rt, Running, in.detail) // still the reason it was started, if a restart
	case Backoff:
		if !rt.mayRestart(in) {
			in.set(rt, Stopped, in.detail)
			return
		}
		in.restart(rt, fmt.Sprintf("retry %d of %d", in.failures, in.spec.StartRetries))
	case Stopping:
		if in.killed && in.launching {
			in.arm(rt, killGrace) // no process yet to be gone: wait for it (launchedWhileStopping)
			return
		}
		if in.killed {
			in.detail = fmt.Sprintf("SIGKILLed; process group %d still there after %v", in.pgid, killGrace)
			in.finishStop(rt)
			return
		}
		in.sigkill(rt, fmt.Sprintf("SIGKILLed after stoptime %v", in.spec.StopTime))
	}
}

// sigkill sends SIGKILL to the process group and waits, up to killGrace,
// for the group to be gone.
func (in *instance) sigkill(rt runtime, detail string) {
	rt.signalGroup(in.pgid, syscall.SIGKILL)
	in.killed = true
	in.set(rt, Stopping, detail)
	if in.leaderGone && !rt.groupAlive(in.pgid) {
		in.finishStop(rt)
		return
	}
	in.arm(rt, killGrace)
}

// stop stops the instance; why says who asked, for the log and status. It
// reports false when there was nothing to stop.
func (in *instance) stop(rt runtime, why string) bool {
	wasPending := in.pending || in.restartDue
	in.pending, in.restartDue, in.then = false, false, thenNothing
	switch in.state {
	case Starting, Running:
		rt.signalGroup(in.pgid, in.spec.StopSignal)
		in.set(rt, Stopping, fmt.Sprintf("sent %s: %s", jobfile.SignalName(in.spec.StopSignal), why))
		in.arm(rt, in.spec.StopTime)
		return true
	case Backoff:
		in.cancelTimer()
		in.set(rt, Stopped, "retry cancelled: "+why)
		return true
	case Stopping:
		return true
	}
	return wasPending
}

// kill sends SIGKILL to the instance's process group at once; why says who
// asked.
func (in *instance) kill(rt runtime, why string) bool {
	wasPending := in.pending || in.restartDue
	in.pending, in.restartDue, in.then = false, false, thenNothing
	switch in.state {
	case Starting, Running, Stopping:
		in.sigkill(rt, "SIGKILLed: "+why)
		return true
	case Backoff:
		in.cancelTimer()
		in.set(rt, Stopped, "retry cancelled: "+why)
		return true
	}
	return wasPending
}

// groupChanged is called when some process was reaped: the rest of a
// stopping group may be gone now.
func (in *instance) groupChanged(rt runtime) {
	if in.waitsForGroup() && !rt.groupAlive(in.pgid) {
		in.finishStop(rt)
	}
}

// waitsForGroup reports whether the instance's stop waits for the rest of
// its process group to go, its process having ended.
func (in *instance) waitsForGroup() bool {
	return in.state == Stopping && in.leaderGone
}

func (in *instance) finishStop(rt runtime) {
	in.cancelTimer()
	in.leaderGone = false
	in.pgid = 0
	if in.then != thenNothing {
		in.afterStop(rt)
		return
	}
	detail := ""
	switch {
	case in.killed:
		detail = in.detail
	case in.exit != nil:
		detail = in.exit.String() // how the stop ended it: "killed by SIGTERM", "exit status 0"
	}
	in.set(rt, Stopped, detail)
	if in.restartDue {
		in.restartDue = false
		in.setPending()
	}
}

// endedForGood reports whether the instance's process ended on its own and
// will not be started again without a request: what makes a critical job
// shut taskmasterd down.
func (in *instance) endedForGood() bool {
	return in.state == Fatal || in.state == Exited
}

func exitFromStatus(ws syscall.WaitStatus) *exitInfo {
	if ws.Signaled() {
		return &exitInfo{code: 128 + int(ws.Signal()), signal: ws.Signal()}
	}
	return &exitInfo{code: ws.ExitStatus()}
}

// String describes the exit as a log line would.
func (e *exitInfo) String() string {
	if e.signal != 0 {
		return "killed by " + jobfile.SignalName(e.signal)
	}
	return fmt.Sprintf("exit status %d", e.code)
}
