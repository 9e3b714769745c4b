// Package epoll is an epoll instance whose waits park a goroutine, not a
// thread: the epoll descriptor is itself watched by the Go runtime's
// poller. taskmasterd's output poller and notify hub each watch many
// descriptors this way, with no goroutine per descriptor.
package epoll

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Epoll is one epoll instance.
type Epoll struct {
	f  *os.File // fd, as the runtime's poller knows it
	fd int
	rc syscall.RawConn
}

// New returns a new epoll instance. Close it to free its descriptor.
func New() (*Epoll, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	// Non-blocking, so that os.NewFile hands it to the runtime's poller.
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	e := &Epoll{f: os.NewFile(uintptr(fd), "epoll"), fd: fd}
	if e.rc, err = e.f.SyscallConn(); err != nil {
		_ = e.f.Close()
		return nil, err
	}
	return e, nil
}

// Ctl is epoll_ctl(2) on this instance.
func (e *Epoll) Ctl(op, fd int, ev *unix.EpollEvent) error {
	return unix.EpollCtl(e.fd, op, fd, ev)
}

// Wait waits until some descriptor is ready, fills events with what is,
// and returns how many. It fails once the instance is closed.
func (e *Epoll) Wait(events []unix.EpollEvent) (int, error) {
	n := 0
	var waitErr error
	err := e.rc.Read(func(fd uintptr) bool {
		for {
			n, waitErr = unix.EpollWait(int(fd), events, 0)
			if waitErr != unix.EINTR {
				break
			}
		}
		// Done unless nothing is ready: the runtime then waits until the
		// epoll descriptor is readable, that is, until some descriptor
		// it watches is.
		return n != 0 || waitErr != nil
	})
	if err != nil {
		return 0, err
	}
	if waitErr != nil {
		return 0, os.NewSyscallError("epoll_wait", waitErr)
	}
	return n, nil
}

// Close closes the instance; a Wait under way returns an error.
func (e *Epoll) Close() error { return e.f.Close() }
