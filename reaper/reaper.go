// Package reaper is the only code in taskmasterd that calls wait4.
//
// A process that starts children and also reaps with wait4(-1) must never
// let anything else wait for those children: whoever reaps first takes the
// exit status. So every child is started through Reaper.ForkExec, which
// records its pid with a function to call at its exit, and Reap collects
// every exited child (our own and adopted orphans alike) and hands each
// status to that function. There is no goroutine per child: a process
// supervisor may have thousands of them.
//
// ForkExec holds the reaper's lock from before the fork until the pid is
// recorded, and Reap takes the same lock before it looks a pid up. A child
// that exits at once is therefore never mistaken for an orphan: its exit is
// reaped, then waits for the lock, then finds its exit function.
//
// taskmasterd never uses os/exec: exec.Cmd.Wait would race this package.
package reaper

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
)

// Exit is the end of one child process.
type Exit struct {
	Pid    int
	Status syscall.WaitStatus
}

// Code returns the exit status as a shell reports it: the exit code, or
// 128+n when the process was killed by signal n.
func (e Exit) Code() int {
	return ExitCode(e.Status)
}

// ExitCode returns a wait status as a shell reports it: the exit code, or
// 128+n when the process was killed by signal n.
func ExitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// Reaper reaps every child of this process and delivers the exits of the
// children it started. The zero value is not usable: call New.
type Reaper struct {
	log *slog.Logger

	mu      sync.Mutex
	waiters map[int]func(Exit) // onExit of each child started by ForkExec
	subs    map[chan struct{}]struct{}
	started chan struct{} // a value after ForkExec started a child: Run looks again
	// blockedStatus is where Run's blocking wait4 writes: on the heap,
	// since a goroutine's stack may move when the call is back.
	blockedStatus syscall.WaitStatus

	orphans atomic.Uint64
	reaped  atomic.Uint64

	// afterWait, when set by tests, runs after wait4 returned a pid and
	// before the lock is taken to look it up.
	afterWait func(pid int)
	// afterFork, when set by tests, runs after the fork and before the pid
	// is recorded, with the lock held.
	afterFork func(pid int)
}

// New returns a Reaper that logs adopted orphans to log at debug level.
func New(log *slog.Logger) *Reaper {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reaper{
		log:     log,
		waiters: make(map[int]func(Exit)),
		subs:    make(map[chan struct{}]struct{}),
		started: make(chan struct{}, 1),
	}
}

// ForkExec starts argv0 with argv and attr, as syscall.ForkExec does, and
// returns its pid. When the process ends, onExit is called with its exit,
// exactly once, on the goroutine that calls Reap (without the reaper's
// lock), maybe before ForkExec has returned. onExit must not block: the
// exits reaped after it wait for it. It is not called when ForkExec fails.
func (r *Reaper) ForkExec(argv0 string, argv []string, attr *syscall.ProcAttr, onExit func(Exit)) (int, error) {
	return r.Start(func() (int, error) { return syscall.ForkExec(argv0, argv, attr) }, onExit)
}

// Start is ForkExec for a child that start makes some other way: through
// a helper that clones it with CLONE_PARENT, so that it is this process's
// child all the same. start runs with the reaper's lock held, so the
// child's exit waits until its pid is recorded.
func (r *Reaper) Start(start func() (int, error), onExit func(Exit)) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := start()
	if err != nil {
		return 0, err
	}
	if r.afterFork != nil {
		r.afterFork(pid)
	}
	r.waiters[pid] = onExit
	select {
	case r.started <- struct{}{}:
	default: // one pending value already says "look again"
	}
	return pid, nil
}

// Reap collects every child that has exited, without blocking, until none
// is left, and returns how many it collected. Call it on every SIGCHLD:
// signals coalesce, so one SIGCHLD may stand for many exits. Run does
// this, and better; never call Reap while Run runs.
func (r *Reaper) Reap() int {
	n := 0
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 { // ECHILD: no children; 0: none has exited
			if n > 0 {
				r.notify()
			}
			return n
		}
		n++
		if r.afterWait != nil {
			r.afterWait(pid)
		}
		r.deliver(Exit{Pid: pid, Status: ws})
	}
}

func (r *Reaper) deliver(e Exit) {
	r.reaped.Add(1)
	r.mu.Lock()
	onExit, ours := r.waiters[e.Pid]
	delete(r.waiters, e.Pid)
	r.mu.Unlock()
	if ours {
		onExit(e)
		return
	}
	total := r.orphans.Add(1)
	if !r.log.Enabled(context.Background(), slog.LevelDebug) {
		return // the arguments below would cost an allocation each
	}
	r.log.Debug("reaped orphan", "pid", e.Pid, "status", ExitCode(e.Status), "orphans_reaped", total)
}

// Reaped returns how many processes it has reaped: its own children and
// adopted orphans.
func (r *Reaper) Reaped() uint64 {
	return r.reaped.Load()
}

// Orphans returns how many adopted processes (children this Reaper did not
// start) it has reaped.
func (r *Reaper) Orphans() uint64 {
	return r.orphans.Load()
}

// Subscribe returns a channel that receives a value after each Reap that
// collected at least one process (coalesced: one pending value at most), and
// a function that ends the subscription. Shutdown uses it to wait for
// descendants to disappear without polling.
func (r *Reaper) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	r.mu.Lock()
	r.subs[ch] = struct{}{}
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		delete(r.subs, ch)
		r.mu.Unlock()
	}
}

func (r *Reaper) notify() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ch := range r.subs {
		select {
		case ch <- struct{}{}:
		default: // one pending notification already says "look again"
		}
	}
}
