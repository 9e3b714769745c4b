package spawnhelper

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/reaper"
	"github.com/taskmaster/taskmaster/reexec"
)

// DefaultThreshold is the descriptor number from which Forker starts
// through the helper. Below it, a direct fork copies a table small enough
// that the helper's round trip would cost more than it saves (see
// BenchmarkStart and docs/benchmarks.md).
const DefaultThreshold = 1024

// replyTimeout bounds the wait for the helper's answer. The helper only
// forks, so a longer wait means it is stuck (stopped by a signal): it is
// killed and the start forks directly.
const replyTimeout = 5 * time.Second

// Reaper is the part of *reaper.Reaper that Forker uses.
type Reaper interface {
	ForkExec(argv0 string, argv []string, attr *syscall.ProcAttr, onExit func(reaper.Exit)) (int, error)
	Start(start func() (int, error), onExit func(reaper.Exit)) (int, error)
}

// Forker starts processes for the reaper: directly while taskmasterd's
// descriptors are few, through the helper once a child has been given a
// descriptor numbered Threshold or above. Descriptors take the lowest
// free numbers, so that number tracks the size of the table a fork
// copies; from then on every start uses the helper, since a table never
// shrinks while processes hold its high numbers. A helper that cannot
// start, or ends, costs nothing but the fast path: the start forks
// directly, and the next one tries a new helper.
type Forker struct {
	reaper    Reaper
	threshold int
	exe       string // the helper's program: this one
	log       *slog.Logger
	// replyTimeout bounds the wait for the helper's answer; tests
	// shorten it.
	replyTimeout time.Duration

	mu     sync.Mutex // one request at a time on the socket
	high   int        // the highest descriptor a child was given
	h      *helper    // nil until needed, or after it ended
	closed bool
}

type helper struct {
	sock int           // our end of a SOCK_SEQPACKET pair
	pid  int           // the helper's
	gone chan struct{} // closed when its exit is reaped
}

// New returns a Forker that starts the helper, when needed, as this
// program (/proc/self/exe) through r, so that r reaps it too.
func New(r Reaper, threshold int, log *slog.Logger) *Forker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Forker{reaper: r, threshold: threshold, exe: reexec.SelfExe, log: log, replyTimeout: replyTimeout}
}

// ForkExec starts argv0 as reaper.Reaper.ForkExec does.
func (f *Forker) ForkExec(argv0 string, argv []string, attr *syscall.ProcAttr, onExit func(reaper.Exit)) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	req, fds, ok := f.request(argv0, argv, attr)
	if !ok {
		return f.reaper.ForkExec(argv0, argv, attr, onExit)
	}
	h := f.helperLocked()
	if h == nil {
		return f.reaper.ForkExec(argv0, argv, attr, onExit)
	}
	return f.reaper.Start(func() (int, error) {
		pid, err := h.spawn(req, fds)
		if errors.Is(err, errHelperFailed) {
			f.log.Warn("spawn helper failed; forking directly", "err", err)
			f.dropLocked(h)
			return syscall.ForkExec(argv0, argv, attr)
		}
		return pid, err
	}, onExit)
}

// request returns the start as the helper's request and the descriptors
// to pass, or false when this start forks directly.
func (f *Forker) request(argv0 string, argv []string, attr *syscall.ProcAttr) ([]byte, []int, bool) {
	if attr == nil || f.closed {
		return nil, nil, false
	}
	req := &request{argv0: argv0, argv: argv, env: attr.Env, dir: attr.Dir}
	var fds []int
	for _, fd := range attr.Files {
		if int(fd) < 0 {
			req.files = append(req.files, -1)
			continue
		}
		f.high = max(f.high, int(fd))
		req.files = append(req.files, int32(len(fds)))
		fds = append(fds, int(fd))
	}
	sys, ok := encodable(attr.Sys)
	if !ok || f.high < f.threshold || len(fds) > maxFiles {
		return nil, nil, false
	}
	req.sys = sys
	msg := req.encode()
	return msg, fds, len(msg) <= maxRequest
}

// helperLocked returns the running helper, starting one if there is
// none, or nil if it cannot start.
func (f *Forker) helperLocked() *helper {
	if h := f.h; h != nil {
		select {
		case <-h.gone:
			f.log.Warn("spawn helper ended; starting another", "pid", h.pid)
			f.dropLocked(h)
		default:
			return h
		}
	}
	h, err := f.startHelper()
	if err != nil {
		f.log.Warn("cannot start the spawn helper; forking directly", "err", err)
		return nil
	}
	f.log.Debug("spawn helper started", "pid", h.pid, "descriptor", f.high)
	f.h = h
	return h
}

func (f *Forker) startHelper() (*helper, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(pair[1])
	tv := unix.NsecToTimeval(f.replyTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(pair[0], unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(pair[0])
		return nil, err
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		unix.Close(pair[0])
		return nil, err
	}
	defer null.Close()
	h := &helper{sock: pair[0], gone: make(chan struct{})}
	attr := &syscall.ProcAttr{
		Files: []uintptr{null.Fd(), null.Fd(), 2, uintptr(pair[1])},
		// A group of its own: ^C on taskmasterd's terminal is not the
		// helper's. No environment: a child gets the one it asks for.
		Sys: &syscall.SysProcAttr{Setpgid: true},
	}
	h.pid, err = f.reaper.ForkExec(f.exe, []string{"taskmaster-spawn", reexec.SpawnHelperMarker}, attr, func(reaper.Exit) { close(h.gone) })
	if err != nil {
		unix.Close(pair[0])
		return nil, err
	}
	return h, nil
}

// dropLocked forgets h and kills it: a helper that failed once is not
// trusted with another start.
func (f *Forker) dropLocked(h *helper) {
	if f.h == h {
		f.h = nil
	}
	unix.Close(h.sock)
	_ = unix.Kill(h.pid, unix.SIGKILL) // its exit is the reaper's
}

// errHelperFailed is a request the helper did not answer: the start may
// fork directly.
var errHelperFailed = errors.New("spawn helper failed")

// spawn sends one request and waits for the pid. An errno the helper
// answers is the start's error, as syscall.ForkExec would return it.
func (h *helper) spawn(req []byte, fds []int) (int, error) {
	for {
		err := unix.Sendmsg(h.sock, req, unix.UnixRights(fds...), nil, unix.MSG_NOSIGNAL)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			return 0, fmt.Errorf("%w: send: %w", errHelperFailed, err)
		}
	}
	var b [8]byte
	for {
		n, err := unix.Read(h.sock, b[:])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			// EAGAIN: no answer within replyTimeout. The child may have
			// started; if so it is an orphan to the reaper.
			return 0, fmt.Errorf("%w: read the answer: %w", errHelperFailed, err)
		case n != len(b):
			return 0, fmt.Errorf("%w: the helper ended", errHelperFailed)
		}
		pid := int(binary.LittleEndian.Uint32(b[:4]))
		if errno := syscall.Errno(binary.LittleEndian.Uint32(b[4:])); errno != 0 {
			return 0, errno
		}
		return pid, nil
	}
}

// Close ends the helper, if one runs, and waits until it has been reaped:
// at shutdown it must not count among the leftover processes. Later starts
// fork directly.
func (f *Forker) Close() {
	f.mu.Lock()
	h := f.h
	f.h, f.closed = nil, true
	f.mu.Unlock()
	if h == nil {
		return
	}
	unix.Close(h.sock) // the helper reads the end of the stream and exits
	select {
	case <-h.gone:
		return
	case <-time.After(f.replyTimeout):
	}
	_ = unix.Kill(h.pid, unix.SIGKILL)
	select {
	case <-h.gone:
	case <-time.After(f.replyTimeout):
	}
}
