package jobs

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// harness runs a Supervisor on fake processes and a fake clock, with job
// files in a temporary directory.
type harness struct {
	t        *testing.T
	dir      string
	clock    *fakeClock
	starter  *fakeStarter
	recorder *fakeRecorder
	log      *syncBuffer // the supervisor's log, as text
	s        *Supervisor
	ctx      context.Context
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), clock: newFakeClock(), starter: newFakeStarter(),
		recorder: &fakeRecorder{}, log: &syncBuffer{}, ctx: t.Context()}
	h.s = New(Config{
		Dir: h.dir, Starter: h.starter, Clock: h.clock, Kill: h.starter.Kill, Reaps: h.starter.reaps,
		Recorder: h.recorder, Logger: slog.New(slog.NewTextHandler(h.log, nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	go h.s.Run(ctx)
	t.Cleanup(func() { cancel(); <-h.s.done })
	return h
}

func (h *harness) write(name, body string) {
	h.t.Helper()
	require.NoError(h.t, os.WriteFile(filepath.Join(h.dir, name+".tm.json"), []byte(body), 0o644))
}

func (h *harness) remove(name string) {
	h.t.Helper()
	require.NoError(h.t, os.Remove(filepath.Join(h.dir, name+".tm.json")))
}

func (h *harness) reload() {
	h.t.Helper()
	require.NoError(h.t, h.s.Reload(h.ctx, ""))
}

func (h *harness) status(name string) JobStatus {
	h.t.Helper()
	st, err := h.s.Status(h.ctx, name)
	require.NoError(h.t, err)
	require.Len(h.t, st, 1)
	return st[0]
}

// states returns the state of each instance of job name.
func (h *harness) states(name string) []string {
	var out []string
	for _, p := range h.status(name).Processes {
		out = append(out, p.State)
	}
	return out
}

func (h *harness) pids(name string) []int {
	var out []int
	for _, p := range h.status(name).Processes {
		out = append(out, p.Pid)
	}
	return out
}

// await waits until every instance of job name is in state.
func (h *harness) await(name string, state State) {
	h.t.Helper()
	require.Eventually(h.t, func() bool {
		st := h.states(name)
		if len(st) == 0 {
			return false
		}
		for _, s := range st {
			if s != state.String() {
				return false
			}
		}
		return true
	}, 5*time.Second, time.Millisecond, "job %s never all %s", name, state)
}

// advance moves the fake clock once the supervisor has armed its timers.
func (h *harness) advance(d time.Duration) {
	h.clock.Advance(d)
}

const quick = `{"cmd":"/bin/sleep 100","starttime":0}`

func TestAutostartJobsStartOnLoad(t *testing.T) {
	h := newHarness(t)
	h.write("web", `{"cmd":"/bin/sleep 100","numprocs":3}`)
	h.write("manual", `{"cmd":"/bin/sleep 100","autostart":false}`)
	h.reload()
	h.await("web", Starting)
	h.advance(time.Second)
	h.await("web", Running)
	require.Equal(t, []string{"STOPPED"}, h.states("manual"))
	require.ElementsMatch(t, []string{"web:0", "web:1", "web:2"}, h.starter.startedNames())
}

func TestStartWaitsForRunningAndReportsRedundant(t *testing.T) {
	h := newHarness(t)
	h.write("manual", `{"cmd":"/bin/sleep 100","autostart":false,"starttime":0}`)
	h.reload()
	require.NoError(t, h.s.Start(h.ctx, "manual"))
	require.Equal(t, []string{"RUNNING"}, h.states("manual"))
	require.ErrorIs(t, h.s.Start(h.ctx, "manual"), ErrRedundant)
	require.NoError(t, h.s.Stop(h.ctx, "manual"))
	require.Equal(t, []string{"STOPPED"}, h.states("manual"))
	require.ErrorIs(t, h.s.Stop(h.ctx, "manual"), ErrRedundant)
	require.ErrorIs(t, h.s.Kill(h.ctx, "manual"), ErrRedundant)
	require.ErrorIs(t, h.s.Start(h.ctx, "nope"), ErrNoSuchJob)
	require.ErrorIs(t, h.s.Start(h.ctx, "manual:1"), ErrNoSuchJob)
}

func TestStartReportsAFailedStart(t *testing.T) {
	h := newHarness(t)
	h.starter.fail["bad"] = errSpawn
	h.write("bad", `{"cmd":"/bin/sleep 100","autostart":false,"startretries":0}`)
	h.reload()
	err := h.s.Start(h.ctx, "bad")
	require.ErrorContains(t, err, "bad:0: FATAL: spawn failed")
}

func TestDependsOnStartsInOrderAndStopsInReverse(t *testing.T) {
	h := newHarness(t)
	h.write("db", `{"cmd":"/bin/sleep 100"}`)
	h.write("web", `{"cmd":"/bin/sleep 100","depends_on":["db"],"starttime":0}`)
	h.reload()
	h.await("db", Starting)
	require.Equal(t, []string{"STOPPED"}, h.states("web"))
	require.Equal(t, "waiting for db", h.status("web").Processes[0].Detail)
	h.advance(time.Second)
	h.await("web", Running)
	require.Equal(t, []string{"db:0", "web:0"}, h.starter.startedNames())

	webPid, dbPid := h.pids("web")[0], h.pids("db")[0]
	h.starter.ignore(webPid) // web takes until its stoptime to stop
	stopped := make(chan error, 1)
	go func() { stopped <- h.s.Stop(h.ctx, All) }()
	require.Eventually(t, func() bool { return slices.Contains(h.starter.sentSignals(), sent{webPid, syscall.SIGTERM}) },
		5*time.Second, time.Millisecond)
	require.NotContains(t, h.starter.sentSignals(), sent{dbPid, syscall.SIGTERM}, "db was stopped before web")
	h.awaitTimers(1)           // armed just after the signal went
	h.advance(5 * time.Second) // web's stoptime: SIGKILL
	require.NoError(t, <-stopped)
	sigs := h.starter.sentSignals()
	require.Less(t, slices.Index(sigs, sent{webPid, syscall.SIGKILL}), slices.Index(sigs, sent{dbPid, syscall.SIGTERM}))
}

func TestReloadLeavesUnchangedJobsAlone(t *testing.T) {
	h := newHarness(t)
	h.write("a", quick)
	h.write("b", quick)
	h.reload()
	h.await("a", Running)
	h.await("b", Running)
	a, b := h.pids("a"), h.pids("b")

	h.write("a", `{ "cmd": "/bin/sleep 100", "starttime": 0 }`) // same job, other bytes
	h.write("b", `{"cmd":"/bin/sleep 200","starttime":0}`)      // a change
	h.write("c", quick)                                         // a new job
	h.reload()
	h.await("c", Running)
	h.await("b", Running)
	require.Equal(t, a, h.pids("a"), "an unchanged job was restarted")
	require.NotEqual(t, b, h.pids("b"), "a changed job kept its process")
}

func TestReloadNumprocsOnlyAddsOrRetiresInstances(t *testing.T) {
	h := newHarness(t)
	h.write("w", `{"cmd":"/bin/sleep 100","starttime":0,"numprocs":2}`)
	h.reload()
	h.await("w", Running)
	before := h.pids("w")

	h.write("w", `{"cmd":"/bin/sleep 100","starttime":0,"numprocs":4,"stoptime":1}`)
	h.reload()
	require.Eventually(t, func() bool { return len(h.states("w")) == 4 }, 5*time.Second, time.Millisecond)
	h.await("w", Running)
	require.Equal(t, before, h.pids("w")[:2], "growing numprocs restarted running instances")

	h.write("w", `{"cmd":"/bin/sleep 100","starttime":0,"numprocs":1}`)
	h.reload()
	require.Eventually(t, func() bool { return len(h.states("w")) == 1 }, 5*time.Second, time.Millisecond)
	require.Equal(t, before[:1], h.pids("w"))
	require.Eventually(t, func() bool { return len(h.s.jobsSnapshot(t, "w")) == 1 }, 5*time.Second, time.Millisecond,
		"retired instances were not forgotten once stopped")
}

func TestReloadInvalidEditKeepsLastGoodVersion(t *testing.T) {
	h := newHarness(t)
	h.write("w", quick)
	h.reload()
	h.await("w", Running)
	pid := h.pids("w")
	h.write("w", `{"cmd":"/bin/sleep 100","numprocs":-1}`)
	h.reload()
	st := h.status("w")
	require.Contains(t, st.Error, "numprocs")
	require.Equal(t, "RUNNING", st.State)
	require.Equal(t, pid, h.pids("w"))
	h.write("w", quick)
	h.reload()
	require.Empty(t, h.status("w").Error)
	require.Equal(t, pid, h.pids("w"))
}

func TestReloadRemovedFileStopsAndForgetsTheJob(t *testing.T) {
	h := newHarness(t)
	h.write("w", quick)
	h.reload()
	h.await("w", Running)
	pid := h.pids("w")[0]
	h.remove("w")
	h.reload()
	require.Eventually(t, func() bool {
		names, err := h.s.Names(h.ctx)
		return err == nil && len(names) == 0
	}, 5*time.Second, time.Millisecond)
	require.Contains(t, h.starter.sentSignals(), sent{pid, syscall.SIGTERM})
}

func TestNewInvalidFileShowsAsInvalid(t *testing.T) {
	h := newHarness(t)
	h.write("bad", `{"cmd":`)
	h.reload()
	st := h.status("bad")
	require.Equal(t, StateInvalid, st.State)
	require.Contains(t, st.Error, "bad.tm.json")
	require.Error(t, h.s.Start(h.ctx, "bad"))
}

func TestCriticalJobEndReported(t *testing.T) {
	h := newHarness(t)
	h.write("main", `{"cmd":"/bin/sleep 100","starttime":0,"critical":true,"autorestart":false}`)
	h.reload()
	h.await("main", Running)
	h.advance(time.Minute)
	h.starter.exit(h.pids("main")[0], exitStatus(3))
	select {
	case c := <-h.s.Critical():
		require.Equal(t, Critical{Instance: "main:0", Code: 3}, c)
	case <-time.After(5 * time.Second):
		t.Fatal("no critical end reported")
	}
}

func TestStoppingACriticalJobIsNotItsEnd(t *testing.T) {
	h := newHarness(t)
	h.write("main", `{"cmd":"/bin/sleep 100","starttime":0,"critical":true}`)
	h.reload()
	h.await("main", Running)
	require.NoError(t, h.s.Stop(h.ctx, "main"))
	select {
	case c := <-h.s.Critical():
		t.Fatalf("a stop on request ended taskmasterd: %+v", c)
	default:
	}
}

func TestShutdownReportsKilledInstances(t *testing.T) {
	h := newHarness(t)
	h.write("polite", quick)
	h.write("stubborn", `{"cmd":"/bin/sleep 100","starttime":0,"stoptime":2}`)
	h.reload()
	h.await("polite", Running)
	h.await("stubborn", Running)
	h.starter.ignore(h.pids("stubborn")[0])
	done := make(chan []string, 1)
	go func() {
		killed, err := h.s.Shutdown(h.ctx)
		require.NoError(t, err)
		done <- killed
	}()
	h.await("polite", Stopped)
	require.Eventually(t, func() bool { return len(h.clock.pending()) == 1 }, 5*time.Second, time.Millisecond)
	h.advance(2 * time.Second)
	require.Equal(t, []string{"stubborn:0"}, <-done)
	require.ErrorIs(t, h.s.Start(h.ctx, "polite"), ErrShuttingDown)
}

func TestRepairRestartsFatalOnly(t *testing.T) {
	h := newHarness(t)
	h.write("ok", quick)
	h.write("bad", `{"cmd":"/bin/sleep 100","starttime":0,"startretries":0}`)
	h.starter.fail["bad"] = errSpawn
	h.reload()
	h.await("ok", Running)
	h.await("bad", Fatal)
	okPid := h.pids("ok")
	require.ErrorIs(t, h.s.Repair(h.ctx, "ok"), ErrRedundant)
	delete(h.starter.fail, "bad")
	require.NoError(t, h.s.Repair(h.ctx, All))
	require.Equal(t, []string{"RUNNING"}, h.states("bad"))
	require.Equal(t, okPid, h.pids("ok"))
}

// jobsSnapshot returns how many instances job name holds, retired or not.
func (s *Supervisor) jobsSnapshot(t *testing.T, name string) []*instance {
	var ins []*instance
	require.NoError(t, s.call(func() { ins = append(ins, s.jobs[name].insts...) }))
	return ins
}

// A file removed and put back while its job is still stopping keeps the
// job: it starts again once stopped.
func TestReloadFileBackWhileStopping(t *testing.T) {
	h := newHarness(t)
	h.write("w", `{"cmd":"/bin/sleep 100","starttime":0,"stoptime":2}`)
	h.reload()
	h.await("w", Running)
	old := h.pids("w")[0]
	h.starter.ignore(old)
	h.remove("w")
	h.reload()
	h.await("w", Stopping)
	h.write("w", `{"cmd":"/bin/sleep 100","starttime":0,"stoptime":2}`)
	h.reload()
	require.Eventually(t, func() bool { return len(h.clock.pending()) == 1 }, 5*time.Second, time.Millisecond)
	h.advance(2 * time.Second) // stoptime: SIGKILL
	h.await("w", Running)
	require.NotEqual(t, old, h.pids("w")[0])
}

// A stop answers once the processes it stopped are gone, even when another
// request starts new ones at once.
func TestStopRepliesWhenAStartFollows(t *testing.T) {
	h := newHarness(t)
	h.write("w", `{"cmd":"/bin/sleep 100","starttime":0,"stoptime":2}`)
	h.reload()
	h.await("w", Running)
	h.starter.ignore(h.pids("w")[0])
	stopped := make(chan error, 1)
	go func() { stopped <- h.s.Stop(h.ctx, "w") }()
	h.await("w", Stopping)
	started := make(chan error, 1)
	go func() { started <- h.s.Start(h.ctx, "w") }()
	require.Eventually(t, func() bool { return len(h.clock.pending()) == 1 }, 5*time.Second, time.Millisecond)
	h.advance(2 * time.Second) // SIGKILL; the start follows at once
	require.NoError(t, <-started)
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the stop never answered")
	}
}

// Two reloads at once must not apply an older read of the directory after
// a newer one: the first one here reads version 1 and is held before it
// applies it, while the file changes to version 2 and a second reload runs.
func TestOverlappingReloadsApplyTheNewestRead(t *testing.T) {
	h := newHarness(t)
	h.write("w", `{"cmd":"/bin/sleep 100","starttime":0,"numprocs":1}`)
	h.reload()
	h.await("w", Running)
	read, release := make(chan struct{}), make(chan struct{})
	h.s.afterLoad = func() {
		h.s.afterLoad = nil // only the first reload is held
		close(read)
		<-release
	}
	first := make(chan error, 1)
	go func() { first <- h.s.Reload(h.ctx, "") }()
	<-read
	h.write("w", `{"cmd":"/bin/sleep 100","starttime":0,"numprocs":2}`)
	second := make(chan error, 1)
	go func() { second <- h.s.Reload(h.ctx, "") }()
	select {
	case <-second:
		t.Fatal("a second reload ran while the first was under way")
	case <-time.After(100 * time.Millisecond): // a negative: a bounded wait is all there is
	}
	close(release)
	require.NoError(t, <-first)
	require.NoError(t, <-second)
	require.Eventually(t, func() bool { return len(h.states("w")) == 2 }, 5*time.Second, time.Millisecond,
		"the daemon runs the older version of the file")
}

// A start whose dependency's dependency failed answers with the reason
// instead of waiting forever.
func TestStartFailsWhenADeeperDependencyFailed(t *testing.T) {
	h := newHarness(t)
	h.starter.fail["c"] = errSpawn
	h.write("c", `{"cmd":"/bin/sleep 100","autostart":false,"startretries":0}`)
	h.write("b", `{"cmd":"/bin/sleep 100","autostart":false,"depends_on":["c"]}`)
	h.write("a", `{"cmd":"/bin/sleep 100","autostart":false,"depends_on":["b"]}`)
	h.reload()
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	defer cancel()
	err := h.s.Start(ctx, "a")
	require.ErrorContains(t, err, "a:0: waiting for b, waiting for c, which is FATAL")
}

// A job whose file is gone cannot be started again while it stops.
func TestRemovedJobCannotBeStarted(t *testing.T) {
	h := newHarness(t)
	h.write("w", `{"cmd":"/bin/sleep 100","starttime":0,"stoptime":2}`)
	h.reload()
	h.await("w", Running)
	h.starter.ignore(h.pids("w")[0])
	h.remove("w")
	h.reload()
	require.ErrorIs(t, h.s.Start(h.ctx, "w"), ErrNoSuchJob)
	require.ErrorIs(t, h.s.Start(h.ctx, "all"), ErrRedundant)
}

// Settled waits for what a reload set in motion: here the restart of a
// changed job whose old process takes its stoptime to stop.
func TestSettledWaitsForTheChangeToBeCarriedOut(t *testing.T) {
	h := newHarness(t)
	h.write("w", `{"cmd":"/bin/sleep 100","starttime":0,"stoptime":2}`)
	h.reload()
	h.await("w", Running)
	old := h.pids("w")[0]
	h.starter.ignore(old)
	h.write("w", `{"cmd":"/bin/sleep 200","starttime":0,"stoptime":2}`)
	h.reload()
	settled := make(chan error, 1)
	go func() { settled <- h.s.Settled(h.ctx, "w") }()
	h.await("w", Stopping)
	select {
	case <-settled:
		t.Fatal("Settled answered while the old process was still stopping")
	default:
	}
	require.Eventually(t, func() bool { return len(h.clock.pending()) == 1 }, 5*time.Second, time.Millisecond)
	h.advance(2 * time.Second)
	require.NoError(t, <-settled)
	require.Equal(t, []string{"RUNNING"}, h.states("w"))
	require.NotEqual(t, old, h.pids("w")[0])
}

// A critical job that crashes while an ordered stop waits for its
// dependents is stopped, not ended: taskmasterd goes on.
func TestCriticalCrashDuringOrderedStopIsNotItsEnd(t *testing.T) {
	h := newHarness(t)
	h.write("db", `{"cmd":"/bin/sleep 100","starttime":0,"critical":true}`)
	h.write("web", `{"cmd":"/bin/sleep 100","starttime":0,"depends_on":["db"],"stoptime":2}`)
	h.reload()
	h.await("db", Running)
	h.await("web", Running)
	h.starter.ignore(h.pids("web")[0]) // web takes its stoptime: db waits its turn
	stopped := make(chan error, 1)
	go func() { stopped <- h.s.Stop(h.ctx, All) }()
	h.await("web", Stopping)
	h.advance(time.Minute) // db ran long enough for a restart, were it allowed
	h.starter.exit(h.pids("db")[0], exitStatus(1))
	h.await("db", Stopped)
	require.NoError(t, <-stopped)
	select {
	case c := <-h.s.Critical():
		t.Fatalf("a crash during stop all ended taskmasterd: %+v", c)
	default:
	}
}

// stop all answers even when a job waiting its turn loses its file.
func TestStopAllWithAJobRemovedMeanwhile(t *testing.T) {
	h := newHarness(t)
	h.write("db", `{"cmd":"/bin/sleep 100","starttime":0}`)
	h.write("web", `{"cmd":"/bin/sleep 100","starttime":0,"depends_on":["db"],"stoptime":2}`)
	h.reload()
	h.await("web", Running)
	h.starter.ignore(h.pids("web")[0])
	stopped := make(chan error, 1)
	go func() { stopped <- h.s.Stop(h.ctx, All) }()
	h.await("web", Stopping)
	h.remove("db")
	h.reload()
	h.advance(2 * time.Second) // web's stoptime
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("stop all never answered")
	}
}

// When hundreds of processes end at once, delivering their exits never
// waits for the supervisor, even while it is busy; it then handles them all.
func TestManyExitsAtOnceNeverBlockTheReaper(t *testing.T) {
	const n = 500
	h := newHarness(t)
	h.write("many", `{"cmd":"/bin/sleep 100","numprocs":500,"starttime":0,"autorestart":false}`)
	h.reload()
	h.await("many", Running)
	pids := h.pids("many")

	release := make(chan struct{})
	busy := make(chan struct{})
	go func() { _ = h.s.call(func() { close(busy); <-release }) }()
	<-busy // Run is held in a request
	delivered := make(chan struct{})
	go func() { // the reaper's goroutine
		defer close(delivered)
		for _, pid := range pids {
			h.starter.exit(pid, exitStatus(0))
		}
	}()
	select {
	case <-delivered:
	case <-time.After(10 * time.Second):
		t.Fatal("delivering exits blocked while the supervisor was busy")
	}
	close(release)
	h.await("many", Exited)
	require.Len(t, h.states("many"), n)
}

// Requests are served while events keep coming: crash-looping instances
// post their timers about as fast as their restarts are handled, and a
// live-link client's registration or a status must not wait for a pause
// that never comes. Here each event takes 100 µs to handle (a spawn takes
// longer) and eight posters keep the queue full.
func TestRequestsAreServedUnderAStreamOfEvents(t *testing.T) {
	s := New(Config{Dir: t.TempDir(), Starter: newFakeStarter(), Clock: newFakeClock()})
	s.otherEvent = func(any) { time.Sleep(100 * time.Microsecond) }
	ctx, cancel := context.WithCancel(context.Background())
	go s.Run(ctx)
	defer func() { cancel(); <-s.done }()
	stop := make(chan struct{})
	var posters sync.WaitGroup
	for range 8 {
		posters.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					s.post(struct{}{})
				}
			}
		})
	}
	defer func() { close(stop); posters.Wait() }()
	for range 20 {
		served := make(chan error, 1)
		go func() { served <- s.call(func() {}) }()
		select {
		case err := <-served:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("a request waited 10 s behind a stream of events")
		}
	}
}
