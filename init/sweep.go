package pid1

import (
	"errors"
	"log/slog"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

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
	left := s.left()
	if len(left) == 0 {
		return 0
	}
	s.log.Info("ending leftover processes", "count", len(left), "grace", s.grace)
	signalAll(left, syscall.SIGTERM)
	signalAll(left, syscall.SIGCONT)
	if s.waitGone(reaped, s.grace, s.skip) {
		return 0
	}
	left = s.left()
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
			if len(s.left()) == 0 {
				return true
			}
		case <-timer.C:
			return false
		case <-skip:
			return false
		}
	}
}

// left returns the live processes below taskmasterd. When taskmasterd
// has no child at all it has no descendant either (a subreaper, like PID
// 1, inherits the children of every descendant that ends), and one
// system call says so: reading every process's stat in /proc costs
// milliseconds on a host with a few hundred processes, at the end of
// every single-command run.
func (s *sweeper) left() []int {
	if s.self == os.Getpid() && !hasChildren() {
		return nil
	}
	return descendants(s.proc, s.self)
}

// hasChildren reports whether this process has a child, live or zombie.
// WNOWAIT leaves a zombie for the reaper, which owns wait4; __WALL counts
// children that report their end with another signal than SIGCHLD too.
// An error other than ECHILD answers true, so that the caller looks in
// /proc.
func hasChildren() bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT|unix.WALL, nil)
	return !errors.Is(err, unix.ECHILD)
}

func signalAll(pids []int, sig syscall.Signal) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, sig) // it may be gone already
	}
}
