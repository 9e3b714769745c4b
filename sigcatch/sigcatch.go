package sigcatch

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
)

// Signals are the signals that os/signal cannot catch and Notify can: 32
// and 34 on Linux.
var Signals = []syscall.Signal{32, 34}

// ErrUnsupported is returned by Notify and Handle on an architecture
// sigcatch has no handler for.
var ErrUnsupported = errors.New("sigcatch: no signal handler for this architecture")

// subscriber is a channel and the signals it asked for, as a bit set
// (bit n-1 for signal n).
type subscriber struct {
	c    chan<- os.Signal
	sigs uint64
}

var (
	mu        sync.Mutex
	started   bool
	installed uint64 // the signals the handler is installed for
	subs      []subscriber
	masker    chan maskRequest // to the thread that keeps the signals unblocked
)

// Notify makes every signal of Signals that this process receives go to c,
// from the first call on, until the process ends (there is no Stop: the
// handler stays, so that these signals can never again kill the process).
// Like signal.Notify, it never blocks sending: a signal that arrives while
// c is full is dropped for c, so c needs room. Signals of one kind
// coalesce, as they do in the kernel.
func Notify(c chan<- os.Signal) error { return Handle(c, Signals...) }

// Handle is Notify for any signal the Go runtime does not need to see
// itself (see Handleable): sigcatch's handler replaces the runtime's, so
// that each signal costs one system call to catch, where signal.Notify
// costs a round trip between two threads for each signal it enables.
// Like signal.Notify, it unblocks the signals it catches (on a thread of
// its own), so that a signal blocked when the process started is
// delivered too. A signal handled here must not also be given to
// os/signal: signal.Notify would leave sigcatch's handler in place and
// its channel would get nothing, signal.Ignore would take the signal.
func Handle(c chan<- os.Signal, sigs ...syscall.Signal) error {
	var set uint64
	for _, sig := range sigs {
		if !Handleable(sig) {
			return fmt.Errorf("sigcatch: signal %d is the Go runtime's to handle", int(sig))
		}
		set |= bit(sig)
	}
	mu.Lock()
	defer mu.Unlock()
	if !started {
		if err := start(); err != nil {
			return err
		}
		started = true
	}
	// Subscribed first: a signal that comes as soon as its handler is in
	// place has somewhere to go.
	subs = append(subs, subscriber{c: c, sigs: set})
	for _, sig := range sigs {
		if installed&bit(sig) != 0 {
			continue
		}
		if err := setHandler(sig); err != nil {
			return fmt.Errorf("sigcatch: signal %d: %w", int(sig), err)
		}
		installed |= bit(sig)
	}
	return unblockOnMasker(set)
}

// A maskRequest asks the masker to unblock a set of signals.
type maskRequest struct {
	set  uint64
	done chan error
}

// unblockOnMasker has the masker thread unblock set and waits until it
// has.
func unblockOnMasker(set uint64) error {
	req := maskRequest{set: set, done: make(chan error)}
	masker <- req
	if err := <-req.done; err != nil {
		return fmt.Errorf("sigcatch: unblocking the signals: %w", err)
	}
	return nil
}

// keepUnblocked runs on a thread of its own for the life of the process,
// the thread on which every handled signal is unblocked. Every thread of
// a Go program starts with the mask the process started with, and the
// runtime unblocks only the signals it needs: a signal a parent left
// blocked would otherwise stay pending for ever. os/signal does the same
// for the signals it catches (runtime.ensureSigM). The goroutine sleeps
// on its channel between requests; its thread wakes for a signal only to
// run the handler.
func keepUnblocked(reqs <-chan maskRequest) {
	runtime.LockOSThread() // never unlocked: the thread keeps its mask
	for req := range reqs {
		req.done <- unblock(req.set)
	}
}

// Handleable reports whether Handle may take sig from the Go runtime.
// It may not take what cannot be caught (SIGKILL, SIGSTOP), the signals
// the runtime uses (SIGPROF for its profiler, 33 for its per-thread
// system calls, SIGURG for preemption unless PreemptionOff), the ones a
// fault raises (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS: the
// runtime turns those into panics or a crash with a trace, where a
// handler that returns would run the faulting instruction again),
// SIGABRT, which the runtime raises to end itself when it crashes,
// SIGPIPE, which the runtime raises when a write to standard output or
// error fails and which ends the process unless os/signal wants it, and
// SIGCHLD, whose action the reaper switches itself (package reaper).
func Handleable(sig syscall.Signal) bool {
	switch sig {
	case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGPROF, 33,
		syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL,
		syscall.SIGTRAP, syscall.SIGSYS, syscall.SIGABRT, syscall.SIGPIPE,
		syscall.SIGCHLD:
		return false
	case syscall.SIGURG:
		return PreemptionOff()
	}
	return sig >= 1 && sig <= 64
}

func bit(sig syscall.Signal) uint64 { return 1 << (uint(sig) - 1) }

// start opens the pipe the handler writes to and starts its reader.
func start() error {
	if !supported {
		return ErrUnsupported
	}
	var p [2]int
	// Non-blocking, so that the handler never waits on a full pipe (the
	// signal is then dropped: a full pipe holds 64 Ki of them), and
	// close-on-exec, so that no job inherits it.
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		return fmt.Errorf("sigcatch: pipe: %w", err)
	}
	r := os.NewFile(uintptr(p[0]), "sigcatch")
	// The write end stays open for the life of the process: the handler
	// may run at any time. The handler writes only in this process, not
	// in a child between its fork and its exec (see handler).
	ownPID = int32(os.Getpid())
	writeFD = int32(p[1])
	go relay(r)
	masker = make(chan maskRequest)
	go keepUnblocked(masker)
	return nil
}

// relay passes on every signal number the handler wrote. The read blocks
// in the runtime's poller: an idle process does not wake up for it.
func relay(r *os.File) {
	buf := make([]byte, 64)
	for {
		n, err := r.Read(buf)
		if err != nil {
			return // cannot happen: nobody closes the write end
		}
		mu.Lock()
		for _, b := range buf[:n] {
			sig := syscall.Signal(b)
			for _, s := range subs {
				if s.sigs&bit(sig) == 0 {
					continue
				}
				select {
				case s.c <- sig:
				default:
				}
			}
		}
		mu.Unlock()
	}
}
