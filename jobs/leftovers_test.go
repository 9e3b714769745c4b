package jobs

import (
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// leftoverGroups returns the groups being stopped after their leader ended.
func (h *harness) leftoverGroups() []int {
	h.t.Helper()
	var out []int
	require.NoError(h.t, h.s.call(func() {
		for pgid := range h.s.leftovers {
			out = append(out, pgid)
		}
	}))
	slices.Sort(out)
	return out
}

// awaitNoLeftovers waits until no leftover group is being stopped.
func (h *harness) awaitNoLeftovers() {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return len(h.leftoverGroups()) == 0 }, 5*time.Second, time.Millisecond,
		"leftover groups: %v", h.leftoverGroups())
}

// awaitTimers waits until n timers are armed on the fake clock.
func (h *harness) awaitTimers(n int) {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return len(h.clock.pending()) == n }, 5*time.Second, time.Millisecond,
		"want %d timers, have %v", n, h.clock.pending())
}

// awaitLog waits until the supervisor's log holds every part, on one line.
func (h *harness) awaitLog(parts ...string) {
	h.t.Helper()
	has := func() bool {
		for _, line := range strings.Split(h.log.String(), "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return true
			}
		}
		return false
	}
	require.Eventually(h.t, has, 5*time.Second, time.Millisecond, "no log line with %q in:\n%s", parts, h.log.String())
}

// runningPid starts job name from body and returns the pid of its process
// once RUNNING, with the fake clock moved past stableUptime.
func (h *harness) runningPid(name, body string) int {
	h.t.Helper()
	h.write(name, body)
	h.reload()
	h.await(name, Running)
	h.advance(time.Minute)
	return h.pids(name)[0]
}

func TestLeftoversGetTheStopSignalWhenTheProcessExits(t *testing.T) {
	h := newHarness(t)
	pid := h.runningPid("web", `{"cmd":"/bin/sleep 100","starttime":0,"autorestart":false,"stopsignal":"USR2"}`)
	h.starter.leaveChild(pid, false)
	h.starter.exit(pid, exitStatus(0))
	h.await("web", Exited)
	h.awaitNoLeftovers()
	require.False(t, h.starter.childAlive(pid))
	require.Contains(t, h.starter.sentSignals(), sent{pid, syscall.SIGUSR2})
	h.awaitLog(`msg="stopping leftover processes of an ended process"`, "instance=web:0", "pgid=1001", "signal=SIGUSR2")
	require.Empty(t, h.clock.pending(), "no timer left to wake an idle taskmasterd")
}

func TestStubbornLeftoversAreKilledAfterStoptime(t *testing.T) {
	h := newHarness(t)
	pid := h.runningPid("web", `{"cmd":"/bin/sleep 100","starttime":0,"autorestart":false,"stoptime":3}`)
	h.starter.leaveChild(pid, true)
	h.starter.exit(pid, exitStatus(0))
	h.await("web", Exited)
	h.awaitTimers(1)
	require.Equal(t, []time.Duration{3 * time.Second}, h.clock.pending())
	require.True(t, h.starter.childAlive(pid), "SIGTERM is ignored")
	h.advance(3 * time.Second)
	h.awaitNoLeftovers()
	require.False(t, h.starter.childAlive(pid))
	var toGroup []syscall.Signal
	for _, s := range h.starter.sentSignals() {
		if s.pgid == pid && s.sig != 0 {
			toGroup = append(toGroup, s.sig)
		}
	}
	require.Equal(t, []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}, toGroup)
	h.awaitLog(`msg="SIGKILLed leftover processes after stoptime 3s"`, "instance=web:0")
}

func TestLeftoversKeepLeavesThemRunning(t *testing.T) {
	h := newHarness(t)
	pid := h.runningPid("web", `{"cmd":"/bin/sleep 100","starttime":0,"autorestart":false,"leftovers":"keep"}`)
	h.starter.leaveChild(pid, false)
	h.starter.exit(pid, exitStatus(0))
	h.await("web", Exited)
	require.Empty(t, h.leftoverGroups())
	require.True(t, h.starter.childAlive(pid))
	for _, s := range h.starter.sentSignals() {
		require.Equal(t, syscall.Signal(0), s.sig, "a signal was sent: %+v", s)
	}
}

// The restart does not wait for the old group: the new process runs while
// the old group's child, which ignores SIGTERM, waits for its SIGKILL. A
// stop of the instance then waits for both.
func TestRestartRunsBesideTheOldGroupAndStopWaitsForBoth(t *testing.T) {
	h := newHarness(t)
	old := h.runningPid("web", `{"cmd":"/bin/sleep 100","starttime":0,"autorestart":true,"stoptime":4}`)
	h.starter.leaveChild(old, true)
	h.starter.exit(old, exitStatus(3))
	require.Eventually(t, func() bool { return h.pids("web")[0] != old && h.pids("web")[0] != 0 }, 5*time.Second, time.Millisecond)
	h.await("web", Running)
	require.Equal(t, []int{old}, h.leftoverGroups())
	require.True(t, h.starter.childAlive(old))
	h.awaitLog("msg=state", "from=RUNNING", "to=RUNNING", `detail="restarted after exit status 3 (restart 1)"`, "restarts=1")

	stopped := make(chan error, 1)
	go func() { stopped <- h.s.Stop(h.ctx, "web") }()
	h.await("web", Stopped)
	select {
	case err := <-stopped:
		t.Fatalf("stop answered (%v) while the old group lives", err)
	default:
	}
	h.advance(4 * time.Second) // the old group's stoptime
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("stop never answered")
	}
	require.False(t, h.starter.childAlive(old))
}

func TestKillSIGKILLsLeftoversAtOnce(t *testing.T) {
	h := newHarness(t)
	old := h.runningPid("web", `{"cmd":"/bin/sleep 100","starttime":0,"autorestart":true}`)
	h.starter.leaveChild(old, true)
	h.starter.exit(old, exitStatus(3))
	require.Eventually(t, func() bool { return len(h.leftoverGroups()) == 1 }, 5*time.Second, time.Millisecond)
	h.await("web", Running)
	require.NoError(t, h.s.Kill(h.ctx, "web"))
	require.False(t, h.starter.childAlive(old))
	require.Empty(t, h.leftoverGroups())
	require.Contains(t, h.starter.sentSignals(), sent{old, syscall.SIGKILL})
}

func TestShutdownWaitsForLeftoversAndReportsTheirSIGKILL(t *testing.T) {
	h := newHarness(t)
	pid := h.runningPid("web", `{"cmd":"/bin/sleep 100","starttime":0,"autorestart":false,"stoptime":2}`)
	h.starter.leaveChild(pid, true)
	h.starter.exit(pid, exitStatus(0))
	h.await("web", Exited)
	done := make(chan []string, 1)
	go func() {
		killed, err := h.s.Shutdown(h.ctx)
		require.NoError(t, err)
		done <- killed
	}()
	require.Eventually(t, func() bool { return errors.Is(h.s.Reload(h.ctx, ""), ErrShuttingDown) },
		5*time.Second, time.Millisecond, "the shutdown never began")
	select {
	case killed := <-done:
		t.Fatalf("shutdown over (%v) while leftovers live", killed)
	default:
	}
	h.advance(2 * time.Second)
	require.Equal(t, []string{"web:0"}, <-done)
	require.False(t, h.starter.childAlive(pid))
}

func TestRecorderHearsEveryStartAndEnd(t *testing.T) {
	h := newHarness(t)
	pid := h.runningPid("web", `{"cmd":"/bin/sleep 100","starttime":0,"stopsignal":"INT","stoptime":7}`)
	require.NoError(t, h.s.Stop(h.ctx, "web"))
	require.Equal(t, []string{"start web:0 1001 SIGINT 7s", "end 1001"}, h.recorder.recorded())
	require.Equal(t, 1001, pid)
}

// Every state change a user debugs from the log says why it happened: the
// exit that caused it, the restart count, the signal and who asked.
func TestStateChangesLogWhy(t *testing.T) {
	tests := []struct {
		name  string
		job   string
		young bool // the process ends within stableUptime (else the clock moves past it first)
		event func(h *harness, pid int)
		want  []string // parts of one log line
	}{
		{"autorestart carries the exit and the count", `{"cmd":"x","starttime":0,"autorestart":true}`, false,
			func(h *harness, pid int) { h.starter.exit(pid, exitStatus(3)) },
			[]string{"from=RUNNING", "to=RUNNING", "pid=1002", `detail="restarted after exit status 3 (restart 1)"`, "restarts=1"}},
		{"restart after a signal names it", `{"cmd":"x","starttime":2,"autorestart":true}`, false,
			func(h *harness, pid int) { h.starter.exit(pid, signalStatus(syscall.SIGSEGV)) },
			[]string{"from=RUNNING", "to=STARTING", `detail="restarted after killed by SIGSEGV (restart 1)"`, "restarts=1"}},
		{"exited says how and whether expected", `{"cmd":"x","starttime":0}`, false,
			func(h *harness, pid int) { h.starter.exit(pid, exitStatus(0)) },
			[]string{"from=RUNNING", "to=EXITED", `detail="exit status 0, expected"`}},
		{"backoff says the exit and the retry", `{"cmd":"x","starttime":0,"autorestart":true}`, true,
			func(h *harness, pid int) { h.starter.exit(pid, exitStatus(1)) },
			[]string{"level=WARN", "from=RUNNING", "to=BACKOFF", `detail="exited after`, "(exit status 1); retry 1 of 3 in 250ms"}},
		{"fatal says it gave up", `{"cmd":"x","starttime":5,"startretries":0}`, true,
			func(h *harness, pid int) { h.starter.exit(pid, exitStatus(2)) },
			[]string{"level=WARN", "from=STARTING", "to=FATAL", `detail="exited too quickly (exit status 2); gave up after 1 attempts"`}},
		{"stopping says the signal and who asked", `{"cmd":"x","starttime":0,"stopsignal":"QUIT"}`, false,
			func(h *harness, pid int) { h.starter.ignore(pid); go func() { _ = h.s.Stop(h.ctx, "web") }() },
			[]string{"from=RUNNING", "to=STOPPING", "pid=1001", `detail="sent SIGQUIT: stop requested"`}},
		{"stopped says how the process ended", `{"cmd":"x","starttime":0}`, false,
			func(h *harness, pid int) { require.NoError(h.t, h.s.Stop(h.ctx, "web")) },
			[]string{"from=STOPPING", "to=STOPPED", `detail="killed by SIGTERM"`}},
		{"a removed file is why", `{"cmd":"x","starttime":0}`, false,
			func(h *harness, pid int) { h.remove("web"); h.reload() },
			[]string{"to=STOPPING", `detail="sent SIGTERM: job file removed"`}},
		{"SIGKILL after stoptime is logged", `{"cmd":"x","starttime":0,"stoptime":1}`, false,
			func(h *harness, pid int) {
				h.starter.ignore(pid)
				go func() { _ = h.s.Stop(h.ctx, "web") }()
				h.awaitTimers(1)
				h.advance(time.Second)
			},
			[]string{"from=STOPPING", "to=STOPPING", `detail="SIGKILLed after stoptime 1s"`}},
		{"kill says who asked", `{"cmd":"x","starttime":0}`, false,
			func(h *harness, pid int) { require.NoError(h.t, h.s.Kill(h.ctx, "web")) },
			[]string{"from=RUNNING", "to=STOPPING", `detail="SIGKILLed: kill requested"`}},
		{"shutdown is why", `{"cmd":"x","starttime":0}`, false,
			func(h *harness, pid int) { _, err := h.s.Shutdown(h.ctx); require.NoError(h.t, err) },
			[]string{"to=STOPPING", `detail="sent SIGTERM: taskmasterd shutting down"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.write("web", tt.job)
			h.reload()
			require.Eventually(t, func() bool { return h.pids("web")[0] != 0 }, 5*time.Second, time.Millisecond)
			if !tt.young {
				h.advance(time.Minute) // past stableUptime: exits restart at once
			}
			tt.event(h, h.pids("web")[0])
			h.awaitLog(append([]string{"msg=state", "instance=web:0"}, tt.want...)...)
		})
	}
}

// The Supervisor listens to the reaper only while it waits for a process
// group to go: else each batch of exits would wake it a second time.
func TestReapsAreWatchedOnlyWhileAGroupIsWaitedFor(t *testing.T) {
	h := newHarness(t)
	pid := h.runningPid("db", `{"cmd":"/bin/sleep 100","starttime":0,"autorestart":false}`)
	h.starter.exit(pid, exitStatus(0))
	h.await("db", Exited)
	require.False(t, h.starter.isWatched(), "an exit that left nothing behind")

	pid = h.runningPid("web", `{"cmd":"/bin/sleep 100","starttime":0,"autorestart":false,"stoptime":4}`)
	h.starter.leaveChild(pid, true) // ignores the SIGTERM
	h.starter.exit(pid, exitStatus(0))
	h.await("web", Exited)
	h.awaitTimers(1)
	require.True(t, h.starter.isWatched(), "a leftover group is waited for")
	h.advance(4 * time.Second) // its SIGKILL
	h.awaitNoLeftovers()
	require.False(t, h.starter.isWatched(), "the group has gone")
}
