package pgstate

import (
	"errors"
	"log/slog"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/internal/procfs"
)

// KillGrace is how long a SIGKILLed group gets to disappear before Reclaim
// gives up on it: only a process stuck in the kernel takes longer.
const KillGrace = 2 * time.Second

// Outcome says what Reclaim did with one entry.
type Outcome string

// The outcomes of Reclaim.
const (
	Gone     Outcome = "already gone"                                 // no process has the leader's pid
	Reused   Outcome = "left alone: the pid is another process's now" // the pid names a process started later
	Stopped  Outcome = "stopped"                                      // the group ended after its stop signal
	Killed   Outcome = "SIGKILLed after stoptime"                     // the group ended after SIGKILL
	Survived Outcome = "still there after SIGKILL"                    // given up on after KillGrace
	Failed   Outcome = "cannot be signalled"                          // kill(2) refused (another user's process)
)

// ReclaimOptions are what Reclaim needs besides the entries.
type ReclaimOptions struct {
	Proc   string       // where procfs is mounted; "" means /proc
	Logger *slog.Logger // nil discards
}

// Reclaim stops the groups of entries that are still alive, all at once:
// each gets its recorded stop signal, then SIGKILL if anything of it is
// left after its recorded stoptime. A group whose leader is gone, or whose
// leader's pid now names a process that started at another time, is left
// alone. It waits for the processes to end through pidfds, which the
// kernel makes readable when a process ends (they are not taskmasterd's
// children, so it cannot wait for them otherwise), and returns the outcome
// of each entry, logging each. It takes at most the longest stoptime plus
// KillGrace.
func Reclaim(entries []Entry, opts ReclaimOptions) []Outcome {
	if opts.Proc == "" {
		opts.Proc = "/proc"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	out := make([]Outcome, len(entries))
	var groups []*oldGroup
	for i := range entries {
		g := &oldGroup{e: entries[i], proc: opts.Proc, members: map[int]int{}}
		if out[i] = g.begin(); out[i] == "" {
			g.index = i
			groups = append(groups, g)
		}
		logOutcome(opts.Logger, &entries[i], out[i])
	}
	waitAll(groups, opts.Logger)
	for _, g := range groups {
		g.closeAll()
		out[g.index] = g.outcome
		logOutcome(opts.Logger, &g.e, g.outcome)
	}
	return out
}

func logOutcome(log *slog.Logger, e *Entry, o Outcome) {
	attrs := []any{"instance", e.Instance, "pid", e.Pid, "pgid", e.Pgid}
	switch o {
	case "":
		log.Warn("stopping a process group left by the previous taskmasterd", append(attrs,
			"signal", unix.SignalName(e.StopSignal), "stoptime", e.StopTime)...)
	case Stopped:
		log.Info("process group of the previous taskmasterd stopped", attrs...)
	case Gone:
		log.Debug("process group of the previous taskmasterd already gone", attrs...)
	default:
		log.Warn("process group of the previous taskmasterd: "+string(o), attrs...)
	}
}

// oldGroup is a group of the previous run being stopped.
type oldGroup struct {
	e        Entry
	index    int
	proc     string
	members  map[int]int // pid -> pidfd of each member still alive
	ownGroup bool        // the leader is still in its group: signal the group
	deadline time.Time
	killed   bool
	outcome  Outcome // set once done
}

// begin checks that the leader is the recorded process, sends the stop
// signal and arms the stoptime. It returns the outcome when there is
// nothing to wait for, "" otherwise.
func (g *oldGroup) begin() Outcome {
	fd, err := unix.PidfdOpen(g.e.Pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return Gone
		}
		return Failed
	}
	// The pidfd was opened first: if the pid still names the recorded
	// process now, the pidfd is that process, whatever happens next.
	st, err := procfs.ReadStat(g.proc, g.e.Pid)
	switch {
	case errors.Is(err, procfs.ErrNoProcess):
		_ = unix.Close(fd)
		return Gone
	case err != nil:
		_ = unix.Close(fd)
		return Failed
	case st.Start != g.e.Start:
		_ = unix.Close(fd)
		return Reused
	}
	g.members[g.e.Pid] = fd
	g.ownGroup = st.Pgid == g.e.Pgid
	if g.ownGroup {
		g.addMembers()
	}
	if !g.signal(g.e.StopSignal) {
		g.closeAll()
		return Failed
	}
	g.deadline = time.Now().Add(g.e.StopTime)
	return ""
}

// addMembers opens a pidfd for every live member of the group not yet
// known, and reports whether there was any.
func (g *oldGroup) addMembers() bool {
	added := false
	for _, pid := range groupMembers(g.proc, g.e.Pgid) {
		if _, ok := g.members[pid]; ok {
			continue
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue
		}
		// Still in the group once the pidfd is open: the pidfd is a member.
		if st, err := procfs.ReadStat(g.proc, pid); err != nil || st.Pgid != g.e.Pgid || st.Zombie() {
			_ = unix.Close(fd)
			continue
		}
		g.members[pid], added = fd, true
	}
	return added
}

// signal sends sig to the group while one of its members is alive (so
// that its number is still this group's: the kernel reuses no number a
// group holds), and to each member through its pidfd, which can never
// reach another process. It reports false when the kernel refused.
func (g *oldGroup) signal(sig syscall.Signal) bool {
	refused := false
	if g.ownGroup && len(g.members) > 0 {
		err := unix.Kill(-g.e.Pgid, sig)
		refused = errors.Is(err, unix.EPERM)
	}
	for _, fd := range g.members {
		err := unix.PidfdSendSignal(fd, sig, nil, 0)
		refused = refused || errors.Is(err, unix.EPERM)
	}
	return !refused
}

// memberEnded forgets a member that ended; when none is left, it looks
// for members forked meanwhile, and reports whether the group is over.
func (g *oldGroup) memberEnded(pid int) bool {
	_ = unix.Close(g.members[pid])
	delete(g.members, pid)
	if len(g.members) > 0 {
		return false
	}
	if g.ownGroup && g.addMembers() {
		return false
	}
	g.outcome = Stopped
	if g.killed {
		g.outcome = Killed
	}
	return true
}

// timeUp handles the deadline: SIGKILL after stoptime, giving up after
// KillGrace.
func (g *oldGroup) timeUp() {
	if g.killed {
		g.outcome = Survived
		return
	}
	g.killed = true
	g.signal(syscall.SIGKILL)
	g.deadline = time.Now().Add(KillGrace)
}

func (g *oldGroup) closeAll() {
	for pid, fd := range g.members {
		_ = unix.Close(fd)
		delete(g.members, pid)
	}
}

// waitAll waits until every group is over, each until its deadline, with
// one poll(2) on the pidfds of all their members: it wakes up when a
// member ends or a deadline comes, never in between.
func waitAll(groups []*oldGroup, log *slog.Logger) {
	groups = slices.Clone(groups) // the caller's is left whole
	for {
		groups = slices.DeleteFunc(groups, func(g *oldGroup) bool { return g.outcome != "" })
		if len(groups) == 0 {
			return
		}
		var fds []unix.PollFd
		var owners []*oldGroup
		var pids []int
		next := groups[0].deadline
		for _, g := range groups {
			next = minTime(next, g.deadline)
			for pid, fd := range g.members {
				fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
				owners, pids = append(owners, g), append(pids, pid)
			}
		}
		// +1: a deadline less than a millisecond away must not spin.
		n, err := unix.Poll(fds, int(max(time.Until(next), 0).Milliseconds())+1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			log.Error("state: poll pidfds", "err", err)
			return
		}
		for i := 0; n > 0 && i < len(fds); i++ {
			if fds[i].Revents != 0 && owners[i].outcome == "" {
				owners[i].memberEnded(pids[i])
			}
		}
		now := time.Now()
		for _, g := range groups {
			if g.outcome == "" && !now.Before(g.deadline) {
				g.timeUp()
			}
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
