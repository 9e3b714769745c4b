package jobs

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// While its start is under way, an instance is STARTING with no pid, and
// observers are told nothing until the outcome comes.
func TestLaunchIsToldWithItsOutcome(t *testing.T) {
	rt, in := startHeld(func(s *jobfile.Spec) { s.StartTime = 0 })
	require.Equal(t, Starting, in.state)
	require.Zero(t, in.pid)
	require.Empty(t, rt.changes, "a start under way is not told")
	require.False(t, in.requestStart(), "a start under way is a start already")

	rt.finishLaunches()
	require.Equal(t, Running, in.state)
	require.Equal(t, 101, in.pid)
	require.Equal(t, []State{Running}, rt.changes, "one change, as when starts were made at once")
}

// startHeld starts instance 0 of a job with spec (edited by edit) and
// keeps its start under way until rt.finishLaunches.
func startHeld(edit func(*jobfile.Spec)) (*fakeRT, *instance) {
	rt := newFakeRT()
	rt.hold = true
	in := newTestInstance(rt, edit)
	started(in, rt)
	return rt, in
}

// A stop asked for while the start is under way sends the stopsignal once
// there is a process to send it to.
func TestStopWhileLaunchingSignalsOnceStarted(t *testing.T) {
	rt, in := startHeld(nil)
	require.True(t, in.stop(rt, whyStopRequest))
	require.Equal(t, Stopping, in.state)
	require.Empty(t, rt.signals, "no process to signal yet")

	rt.finishLaunches()
	require.Equal(t, Stopping, in.state)
	require.Equal(t, []sent{{101, syscall.SIGTERM}}, rt.signals)
	in.exited(rt, signalStatus(syscall.SIGTERM))
	require.Equal(t, Stopped, in.state)
}

// A kill while the start is under way sends SIGKILL once started; the
// kill's grace period does not end the stop before there is a process.
func TestKillWhileLaunchingWaitsForTheProcess(t *testing.T) {
	rt, in := startHeld(nil)
	require.True(t, in.kill(rt, whyStopRequest))
	rt.clock.Advance(3 * killGrace)
	require.Equal(t, Stopping, in.state, "no stop is over before its process has started")

	rt.finishLaunches()
	require.Equal(t, []sent{{101, syscall.SIGKILL}}, rt.signals)
	in.exited(rt, signalStatus(syscall.SIGKILL))
	require.Equal(t, Stopped, in.state)
}

// A start that fails after a stop overtook it leaves the instance STOPPED,
// not retried.
func TestFailedLaunchWhileStoppingIsStopped(t *testing.T) {
	rt, in := startHeld(nil)
	in.stop(rt, whyStopRequest)
	rt.spawnErr = errSpawn
	rt.finishLaunches()
	require.Equal(t, Stopped, in.state)
	require.Zero(t, in.failures)
	require.Empty(t, rt.clock.pending(), "no retry, no timer")
}

// A process that proves ready before its start's outcome is handled (its
// notify socket may be read first) is RUNNING once the outcome comes.
func TestReadyBeforeTheLaunchIsKept(t *testing.T) {
	rt, in := startHeld(withReady)
	in.becomeReady(rt, "ready: READY=1")
	require.Empty(t, rt.changes)

	rt.finishLaunches()
	require.Equal(t, Running, in.state)
	require.Equal(t, []State{Starting, Running}, rt.changes)
	require.Empty(t, rt.clock.pending(), "the ready deadline is disarmed")
}

// Requests are served while a start waits for its child's exec (which, on
// a busy machine, waits for a core): the supervisor's loop does not make
// starts itself.
func TestRequestsAreServedWhileAStartIsUnderWay(t *testing.T) {
	h := newHarness(t)
	gate := h.starter.holdStarts()
	h.write("web", quick)
	h.reload()
	h.awaitLaunching("web")
	require.Equal(t, []int{0}, h.pids("web"), "no pid while the start is under way")
	served := make(chan error, 1)
	go func() { _, err := h.s.Status(h.ctx, ""); served <- err }()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("a status waited behind a start")
	}
	close(gate)
	h.await("web", Running)
	require.Equal(t, []int{1001}, h.pids("web"))
}

// A process that ends before Start has returned (the reaper may reap it as
// soon as it has its pid) is handled after its start: the instance backs
// off, and the Recorder hears the start before the end.
func TestExitBeforeStartReturnsFollowsTheStart(t *testing.T) {
	h := newHarness(t)
	h.starter.mu.Lock()
	h.starter.quick = map[string]int{"web": 1}
	h.starter.mu.Unlock()
	h.write("web", `{"cmd":"/bin/false","starttime":1,"startretries":0}`)
	h.reload()
	h.await("web", Fatal)
	require.Equal(t, []string{"start web:0 1001 SIGTERM 5s", "end 1001"}, h.recorder.recorded())
}

// Status and snapshots show what observers were last told: a start under
// way shows as the state before it, so that a snapshot followed by the
// events after it is the state.
func TestSnapshotDuringALaunchShowsTheToldState(t *testing.T) {
	h := newHarness(t)
	gate := h.starter.holdStarts()
	h.write("web", `{"cmd":"/bin/sleep 100","starttime":0,"autostart":false}`)
	h.reload()
	sub, err := h.s.Subscribe(0)
	require.NoError(t, err)
	started := make(chan error, 1)
	go func() { started <- h.s.Start(h.ctx, "web") }()
	h.awaitLaunching("web")
	require.NoError(t, sub.Snapshot(h.ctx, "during"))
	snap := next(t, sub)
	require.Equal(t, Snapshot, snap.Kind)
	require.Equal(t, "STOPPED", snap.Jobs[0].Processes[0].State)
	require.Equal(t, []string{"STOPPED"}, h.states("web"))

	close(gate)
	require.NoError(t, <-started)
	ev := next(t, sub)
	require.Equal(t, InstanceChanged, ev.Kind)
	require.Equal(t, "STOPPED", ev.Instance.From)
	require.Equal(t, "RUNNING", ev.Instance.State)
}

// awaitLaunching waits until the start of instance 0 of job name is under
// way.
func (h *harness) awaitLaunching(name string) {
	h.t.Helper()
	require.Eventually(h.t, func() bool {
		var launching bool
		require.NoError(h.t, h.s.call(func() {
			if j := h.s.jobs[name]; j != nil && len(j.insts) > 0 {
				launching = j.insts[0].launching
			}
		}))
		return launching
	}, 5*time.Second, time.Millisecond, "the start of %s never got under way", name)
}

// A crash-looping instance with "starttime": 0 is RUNNING throughout its
// restarts for requests that wait for RUNNING, as when starts were made on
// Run: a restart under way does not keep them waiting.
func TestRestartUnderWayOfARunningInstanceCountsAsRunning(t *testing.T) {
	h := newHarness(t)
	h.write("web", quick)
	h.reload()
	h.await("web", Running)
	pid := h.pids("web")[0]
	gate := h.starter.holdStarts()
	defer close(gate)
	h.advance(2 * stableUptime) // past a failed start: restarted at once
	h.starter.exit(pid, exitStatus(1))
	h.awaitLaunching("web")
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, h.s.Wait(ctx, "web", Running), "waited for the restart under way")
	require.ErrorIs(t, h.s.Start(ctx, "web"), ErrRedundant)
}

// A restart under way is counted with its outcome: status never shows the
// count of a restart beside the state before it.
func TestRestartIsCountedWithItsOutcome(t *testing.T) {
	rt := newFakeRT()
	in := newTestInstance(rt, nil)
	running(in, rt)
	rt.hold = true
	rt.clock.Advance(time.Minute)
	in.exited(rt, exitStatus(3))
	require.True(t, in.launching)
	ps := processStatus(in)
	require.Equal(t, "RUNNING", ps.State)
	require.Zero(t, ps.Restarts)

	rt.finishLaunches()
	ps = processStatus(in)
	require.Equal(t, "STARTING", ps.State)
	require.Equal(t, 1, ps.Restarts)
	require.Contains(t, ps.Detail, "(restart 1)")
}
