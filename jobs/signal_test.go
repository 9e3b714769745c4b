package jobs

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/jobs/attach"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// signal reaches the process group of every instance that has a process,
// and changes no state.
func TestSignalReachesProcessGroups(t *testing.T) {
	h := newHarness(t)
	h.write("web", `{"cmd":"/bin/sleep 100","starttime":0,"numprocs":2}`)
	h.write("idle", `{"cmd":"/bin/sleep 100","autostart":false}`)
	h.reload()
	h.await("web", Running)
	pids := h.pids("web")
	for _, pid := range pids {
		h.starter.ignore(pid) // a server that reloads on SIGHUP rather than ending
	}
	require.NoError(t, h.s.Signal(h.ctx, "web", syscall.SIGHUP))
	require.Subset(t, h.starter.sentSignals(), []sent{{pids[0], syscall.SIGHUP}, {pids[1], syscall.SIGHUP}})
	require.Equal(t, []string{"RUNNING", "RUNNING"}, h.states("web"))
	require.Equal(t, pids, h.pids("web"))

	require.NoError(t, h.s.Signal(h.ctx, "web:1", syscall.SIGUSR2))
	require.Contains(t, h.starter.sentSignals(), sent{pids[1], syscall.SIGUSR2})
	require.NotContains(t, h.starter.sentSignals(), sent{pids[0], syscall.SIGUSR2})

	require.ErrorIs(t, h.s.Signal(h.ctx, "idle", syscall.SIGHUP), ErrRedundant)
	require.ErrorIs(t, h.s.Signal(h.ctx, "nope", syscall.SIGHUP), ErrNoSuchJob)
	require.Contains(t, h.log.String(), `msg="signal sent on request" target=web signal=SIGHUP`)
}

// A signal that ends a process is seen as an exit like any other: the
// instance restarts per its settings.
func TestSignalThatEndsAProcess(t *testing.T) {
	h := newHarness(t)
	h.write("web", `{"cmd":"/bin/sleep 100","starttime":0,"autorestart":false}`)
	h.reload()
	h.await("web", Running)
	require.NoError(t, h.s.Signal(h.ctx, "web", syscall.SIGTERM))
	h.await("web", Exited)
	require.Equal(t, "SIGTERM", h.status("web").Processes[0].Signal)
}

func TestAttachTargets(t *testing.T) {
	h := newHarness(t)
	h.write("web", `{"cmd":"/bin/sleep 100","starttime":0,"numprocs":2}`)
	h.write("one", `{"cmd":"/bin/sleep 100","starttime":0}`)
	h.write("idle", `{"cmd":"/bin/sleep 100","autostart":false}`)
	h.reload()
	h.await("web", Running)
	h.await("one", Running)

	s, name, err := h.s.Attach(h.ctx, "one", 0)
	require.NoError(t, err)
	require.Equal(t, "one:0", name)
	s.Close()
	s, name, err = h.s.Attach(h.ctx, "web:1", 0)
	require.NoError(t, err)
	require.Equal(t, "web:1", name)
	s.Close()

	_, _, err = h.s.Attach(h.ctx, "web", 0)
	require.EqualError(t, err, "job web has 2 instances: name one, as in web:0")
	_, _, err = h.s.Attach(h.ctx, "idle", 0)
	require.ErrorIs(t, err, attach.ErrNotRunning)
	require.EqualError(t, err, "idle:0 is STOPPED: no process to attach to")
	_, _, err = h.s.Attach(h.ctx, "nope", 0)
	require.ErrorIs(t, err, ErrNoSuchJob)
}

// The command of single-command mode uses taskmasterd's own terminal:
// attaching to it is refused with the reason.
func TestAttachRefusesSingleCommand(t *testing.T) {
	h := newHarness(t)
	spec := testSpec("main")
	spec.StartTime = 0
	spec.AutoRestart = jobfile.RestartNever
	require.NoError(t, h.s.AddCommand(h.ctx, spec))
	h.await("main", Running)
	_, _, err := h.s.Attach(h.ctx, "main", 0)
	require.ErrorContains(t, err, "single-command mode")
}
