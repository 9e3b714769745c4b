package reaper

import (
	"context"
	"errors"
	"os"
	"runtime"
	"syscall"
	"time"
)

// Run reaps every child until ctx ends; it is the loop taskmasterd runs.
// sigchld receives SIGCHLD (signal.Notify). Call Run from one goroutine,
// and then never Reap: Run owns wait4.
//
// A SIGCHLD caught through os/signal costs several threads a wake-up: the
// runtime's handler runs on one, the goroutine that receives signals on
// another, and the one that reaps on a third. tini pays one: it blocks
// SIGCHLD and waits for it. So while children exist, Run waits for their
// ends in a blocking wait4 on a thread of its own, with SIGCHLD at its
// default action, which the kernel discards without waking anyone: each
// wake-up of that one thread reaps every exit that came meanwhile. Only
// when no child is left (wait4 says ECHILD) does Run go back to SIGCHLD,
// for a process adopted later (one that entered the PID namespace from
// outside and forked) and to ForkExec's word that it started one.
//
// A blocking wait4 cannot see ctx end: Run's end interrupts it with a
// SIGCHLD sent to its thread while the handler does not restart system
// calls (see interrupt).
func (r *Reaper) Run(ctx context.Context, sigchld <-chan os.Signal) {
	runtime.LockOSThread() // interrupt signals this thread
	defer runtime.UnlockOSThread()
	blocker := newBlocker()
	stop := context.AfterFunc(ctx, blocker.interrupt)
	defer func() {
		if !stop() {
			blocker.finish() // interrupt is under way: let it end
		}
	}()
	for ctx.Err() == nil {
		if r.reap(syscall.WNOHANG) == errNone && blocker.block() {
			r.waitBlocking(ctx)
			blocker.unblock()
			continue
		}
		select {
		case <-sigchld:
		case <-r.started:
		case <-ctx.Done():
		}
	}
}

// waitBlocking reaps in blocking wait4s until no child is left or ctx ends.
func (r *Reaper) waitBlocking(ctx context.Context) {
	for ctx.Err() == nil {
		if err := r.reap(0); err != nil && !errors.Is(err, syscall.EINTR) {
			return // ECHILD: none left
		}
	}
}

// errNone is what reap returns when children exist but none has exited.
var errNone = errors.New("no child has exited")

// reap collects exits until none is left, the first with a wait4 that
// has options (0 blocks until one comes) and the others without blocking;
// it delivers them, tells the subscribers, and returns why it stopped:
// errNone when children are left to wait for, ECHILD when none is, EINTR.
func (r *Reaper) reap(options int) error {
	n := 0
	defer func() {
		if n > 0 {
			r.notify()
		}
	}()
	for {
		var ws syscall.WaitStatus
		var pid int
		var err error
		if options == 0 {
			pid, err = wait4Blocking(&r.blockedStatus)
			ws = r.blockedStatus
		} else {
			pid, err = wait4NoHang(&ws)
		}
		switch {
		case errors.Is(err, syscall.EINTR) && n == 0 && options == 0:
			return err // maybe Run's end
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			return err
		case pid == 0:
			return errNone
		}
		n++
		options = syscall.WNOHANG
		if r.afterWait != nil {
			r.afterWait(pid)
		}
		r.deliver(Exit{Pid: pid, Status: ws})
	}
}

// interruptRetry is the first pause between two signals of interrupt: a
// signal that comes just before the thread enters wait4 does not interrupt
// it, so interrupt sends again, at growing intervals, until Run has seen.
const interruptRetry = time.Millisecond

// A blocker switches SIGCHLD between the runtime's handler and its default
// action for Run's blocking wait4, and interrupts that wait4 when Run ends.
// Where it cannot (no support for the platform, or the kernel refused),
// block reports false and Run reaps on every SIGCHLD instead.
type blocker struct {
	state chan blockerState // holds the state: a lock that select can use
	done  chan struct{}     // closed when Run is done with the blocking
}

type blockerState struct {
	sig       *sigchldAction // the runtime's SIGCHLD action; nil: cannot block
	tid       int            // the thread that blocks
	stopping  bool           // Run's end has begun: block no more
	defaulted bool           // SIGCHLD is at its default action
}

func newBlocker() *blocker {
	b := &blocker{state: make(chan blockerState, 1), done: make(chan struct{})}
	b.state <- blockerState{sig: runtimeSIGCHLD(), tid: syscall.Gettid()}
	return b
}

// block sets SIGCHLD to its default action, and reports whether Run may
// block in wait4.
func (b *blocker) block() bool {
	st := <-b.state
	defer func() { b.state <- st }()
	if st.sig == nil || st.stopping {
		return false
	}
	if err := st.sig.setDefault(); err != nil {
		st.sig = nil
		return false
	}
	st.defaulted = true
	return true
}

// unblock gives SIGCHLD back to the runtime's handler.
func (b *blocker) unblock() {
	st := <-b.state
	defer func() { b.state <- st }()
	if st.defaulted && !st.stopping {
		_ = st.sig.restore(true)
		st.defaulted = false
	}
}

// interrupt ends a blocking wait4 under way: SIGCHLD goes back to the
// runtime's handler, without SA_RESTART, and is sent to the blocked thread
// until Run is done with it.
func (b *blocker) interrupt() {
	st := <-b.state
	st.stopping = true
	sig, defaulted, tid := st.sig, st.defaulted, st.tid
	if defaulted {
		_ = sig.restore(false)
	}
	b.state <- st
	if !defaulted {
		return // Run does not block: ctx wakes it
	}
	pause := interruptRetry
	for {
		_ = syscall.Tgkill(os.Getpid(), tid, syscall.SIGCHLD)
		select {
		case <-b.done:
			_ = sig.restore(true)
			return
		case <-time.After(pause):
			pause *= 2
		}
	}
}

// finish tells interrupt that Run no longer blocks.
func (b *blocker) finish() { close(b.done) }
