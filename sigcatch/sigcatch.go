package sigcatch

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// Signals are the signals that os/signal cannot catch and Notify can: 32
// and 34 on Linux.
var Signals = []syscall.Signal{32, 34}

// ErrUnsupported is returned by Notify on an architecture it has no
// handler for.
var ErrUnsupported = errors.New("sigcatch: no signal handler for this architecture")

var (
	mu      sync.Mutex
	started bool
	subs    []chan<- os.Signal
)

// Notify makes every signal of Signals that this process receives go to c,
// from the first call on, until the process ends (there is no Stop: the
// handler stays, so that these signals can never again kill the process).
// Like signal.Notify, it never blocks sending: a signal that arrives while
// c is full is dropped for c, so c needs room. Signals of one kind
// coalesce, as they do in the kernel.
func Notify(c chan<- os.Signal) error {
	mu.Lock()
	defer mu.Unlock()
	if !started {
		if err := install(); err != nil {
			return err
		}
		started = true
	}
	subs = append(subs, c)
	return nil
}

// install opens the pipe the handler writes to, starts its reader, and
// installs the handler for every signal of Signals.
func install() error {
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
	// may run at any time.
	writeFD = int32(p[1])
	for _, sig := range Signals {
		if err := setHandler(sig); err != nil {
			return fmt.Errorf("sigcatch: signal %d: %w", int(sig), err)
		}
	}
	go relay(r)
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
			for _, c := range subs {
				select {
				case c <- syscall.Signal(b):
				default:
				}
			}
		}
		mu.Unlock()
	}
}
