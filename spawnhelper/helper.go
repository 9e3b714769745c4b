// Package spawnhelper starts taskmasterd's children from a small helper
// process once taskmasterd holds many descriptors.
//
// fork(2) copies the parent's descriptor table and exec(2) then closes
// the copies marked close-on-exec: both cost time in proportion to the
// table. taskmasterd holds two descriptors per running process (the
// read ends of its output pipes), so with 10,000 processes every start
// copied and closed 20,000 of them, and starting got 2.45 times slower
// than a loop that holds none. The helper is taskmasterd itself, started
// again in a mode (Main) that holds a socket and nothing else: it receives
// a start's settings and the child's own descriptors (SCM_RIGHTS), clones
// the child with CLONE_PARENT, so that the child is taskmasterd's and
// reaped by its reaper, and answers with the pid.
//
// Forker decides, start by start, whether the helper is worth its round
// trip (see Forker).
package spawnhelper

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/reexec"
)

// socketFd is the helper's descriptor for its socket to taskmasterd.
const socketFd = 3

// Main serves as the spawn helper when this process was started as one,
// and never returns then: it exits when taskmasterd closes its end of the
// socket, or ends. Call it first in main.
func Main() {
	if !reexec.SpawnHelper() {
		return
	}
	if err := serve(socketFd); err != nil {
		fmt.Fprintf(os.Stderr, "taskmaster spawn helper: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serve answers requests on sock until its peer closes it.
func serve(sock int) error {
	buf := make([]byte, maxRequest)
	oob := make([]byte, unix.CmsgSpace(4*maxFiles))
	for {
		n, oobn, msgFlags, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("read a request: %w", err)
		}
		if n == 0 && oobn == 0 {
			return nil // taskmasterd closed its end, or ended
		}
		fds, err := passedFds(oob[:oobn])
		var pid int
		if err == nil && msgFlags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
			err = errMalformed
		}
		if err == nil {
			pid, err = spawn(buf[:n], fds)
		}
		for _, fd := range fds {
			unix.Close(fd)
		}
		if err := reply(sock, pid, err); err != nil {
			return err
		}
	}
}

func passedFds(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			return fds, err
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

func spawn(msg []byte, fds []int) (int, error) {
	req, err := decode(msg)
	if err != nil {
		return 0, err
	}
	files := make([]uintptr, len(req.files))
	for i, f := range req.files {
		switch {
		case f < 0:
			files[i] = ^uintptr(0) // closed in the child
		case int(f) < len(fds):
			files[i] = uintptr(fds[f])
		default:
			return 0, errMalformed
		}
	}
	return syscall.ForkExec(req.argv0, req.argv, &syscall.ProcAttr{
		Dir: req.dir, Env: req.env, Files: files, Sys: req.sys.procAttr(),
	})
}

// reply sends the pid, or the errno of a failed start (EPROTO for a
// request the helper could not read).
func reply(sock, pid int, err error) error {
	var errno syscall.Errno
	if err != nil && !errors.As(err, &errno) {
		errno = syscall.EPROTO
	}
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:4], uint32(pid))
	binary.LittleEndian.PutUint32(b[4:], uint32(errno))
	for {
		_, err := unix.Write(sock, b[:])
		if err != unix.EINTR {
			return err
		}
	}
}
