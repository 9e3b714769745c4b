package pid1

import (
	"log/slog"
	"syscall"
	"time"

	"github.com/taskmaster/taskmaster/reaper"
)

// killWait bounds the wait for SIGKILLed processes to disappear; SIGKILL
// cannot be caught, so only a process stuck in the kernel takes longer.
const killWait = 2 * time.Second

// sweeper ends the processes left below taskmasterd once the jobs have
// stopped: orphans that left their job's process group, daemons that
// double-forked, anything in the namespace (as PID 1) or subtree (as a
// subreaper). They get SIGTERM (and SIGCONT, so a stopped one can act on
// it), then SIGKILL after the grace period.
type sweeper struct {
	proc   string // where procfs is mounted
	self   int
	reaper *reaper.Reaper
	grace  time.Duration
	skip   <-chan struct{} // closed by a second shutdown signal: no more grace
	log    *slog.Logger
}

// run sweeps and returns how many processes had to be SIGKILLed.
func (s *sweeper) run() int {
	reaped, unsubscribe := s.reaper.Subscribe()
	defer unsubscribe()
	left := descendants(s.proc, s.self)
	if len(left) == 0 {
		return 0
	}
	s.log.Info("ending leftover processes", "count", len(left), "grace", s.grace)
	signalAll(left, syscall.SIGTERM)
	signalAll(left, syscall.SIGCONT)
	if s.waitGone(reaped, s.grace, s.skip) {
		return 0
	}
	left = descendants(s.proc, s.self)
	if len(left) == 0 {
		return 0
	}
	s.log.Warn("killing leftover processes", "count", len(left), "pids", left)
	signalAll(left, syscall.SIGKILL)
	s.waitGone(reaped, killWait, nil)
	return len(left)
}

// waitGone waits, without polling, until no descendant is left: each reap
// is a cue to look again. It reports false if the time ran out first.
func (s *sweeper) waitGone(reaped <-chan struct{}, d time.Duration, skip <-chan struct{}) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case <-reaped:
			if len(descendants(s.proc, s.self)) == 0 {
				return true
			}
		case <-timer.C:
			return false
		case <-skip:
			return false
		}
	}
}

func signalAll(pids []int, sig syscall.Signal) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, sig) // it may be gone already
	}
}
