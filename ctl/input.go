package ctl

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// errStopped is what a stoppable reader returns once stopped.
var errStopped = errors.New("input stopped")

// stoppableReader reads a terminal (or any file descriptor) until stopped.
// A read of a terminal cannot be cancelled, and attach must stop reading
// when it ends (in the shell, the next prompt reads the same terminal), so
// it waits with poll for the descriptor or for a pipe that stop closes.
type stoppableReader struct {
	fd         int
	stopR      int
	stopW      *os.File
	stopCalled bool
}

func newStoppableReader(fd int) (*stoppableReader, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	return &stoppableReader{fd: fd, stopR: p[0], stopW: os.NewFile(uintptr(p[1]), "stop")}, nil
}

// Read waits for input or stop. It returns io.EOF at the end of the
// input, errStopped once stopped.
func (r *stoppableReader) Read(p []byte) (int, error) {
	for {
		fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN}, {Fd: int32(r.stopR), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return 0, os.NewSyscallError("poll", err)
		}
		if fds[1].Revents != 0 {
			return 0, errStopped
		}
		if fds[0].Revents == 0 {
			continue
		}
		n, err := unix.Read(r.fd, p)
		switch {
		case err == unix.EINTR || err == unix.EAGAIN: // a non-blocking descriptor someone else read first
			continue
		case err == unix.EIO: // a terminal that hung up
			return 0, io.EOF
		case err != nil:
			return 0, os.NewSyscallError("read", err)
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// stop makes a Read under way, and every later one, return errStopped.
// It must be called once, after which the reader is closed once no Read
// runs: call close then.
func (r *stoppableReader) stop() {
	if !r.stopCalled {
		r.stopCalled = true
		_ = r.stopW.Close()
	}
}

// close frees the reader's pipe; no Read may run.
func (r *stoppableReader) close() {
	r.stop()
	_ = unix.Close(r.stopR)
}
