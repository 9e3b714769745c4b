package jobs

import (
	"fmt"
	"os"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/jobs/attach"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
	"github.com/taskmaster/taskmaster/jobs/output"
)

// openTerminal gives the process of a job with "tty": true a terminal of
// its own (a pseudo-terminal from /dev/ptmx): its side of it becomes the
// child's stdin, stdout and stderr (and, through sysProcAttr, its
// controlling terminal). The master side is read by the Poller like an
// output pipe (stdout's destination; one stream: a terminal merges the
// two) and kept by the instance's Point for attached clients' input and
// sizes. Nothing here forks: the reaper does, as for every process.
func (st *starter) openTerminal(s *stdio, p *Proc, poller *output.Poller) (err error) {
	dst, release, err := st.destination(p.Spec.Stdout, st.cfg.Stdout, "stdout", p)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	master, tty, err := pty.Open()
	if err != nil {
		return fmt.Errorf("tty: open a terminal: %w", err)
	}
	// The master's descriptor is copied below: this one goes in any case.
	defer master.Close()
	s.tty = tty
	defer func() {
		if err != nil {
			s.closeChildEnds()
		}
	}()
	// Fd makes the terminal's side blocking again (os.OpenFile made it
	// non-blocking), as the child expects of its stdin.
	ttyFd := int(tty.Fd())
	size := attach.DefaultSize
	if p.Point != nil {
		size = p.Point.Size()
	}
	if err := unix.IoctlSetWinsize(ttyFd, unix.TIOCSWINSZ, &unix.Winsize{Row: size.Rows, Col: size.Cols}); err != nil {
		return fmt.Errorf("tty: set the size: %w", os.NewSyscallError("ioctl", err))
	}
	if u := p.Spec.User; u != nil {
		// The user's terminal, as login makes it: programs that check
		// who owns their terminal (or open /dev/tty) expect it.
		if err := unix.Fchown(ttyFd, int(u.UID), int(u.GID)); err != nil {
			return fmt.Errorf("tty: give the terminal to uid %d: %w", u.UID, os.NewSyscallError("fchown", err))
		}
	}
	read, term, err := masterCopies(master)
	if err != nil {
		return err
	}
	s.child = [3]int{ttyFd, ttyFd, ttyFd}
	if p.Point != nil {
		s.proc = p.Point.NewProcess(term)
	} else {
		_ = term.Close()
	}
	ring := p.Ring
	if p.Spec.Stdout.Kind == jobfile.OutputDiscard {
		ring = nil // "discard" keeps nothing, as for a pipe job; attached clients still see it
	}
	s.addPump(poller, read, dst, ring, release)
	return nil
}

// masterCopies returns two descriptors of the master side of a terminal,
// both close-on-exec and non-blocking (the flag belongs to the open file,
// which they share): one for the Poller to read, one for input and sizes.
func masterCopies(master *os.File) (read int, term *os.File, err error) {
	fd := int(master.Fd())
	read, err = unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return 0, nil, fmt.Errorf("tty: %w", os.NewSyscallError("fcntl", err))
	}
	t, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err == nil {
		err = unix.SetNonblock(t, true)
		if err != nil {
			_ = unix.Close(t)
		}
	}
	if err != nil {
		_ = unix.Close(read)
		return 0, nil, fmt.Errorf("tty: %w", os.NewSyscallError("fcntl", err))
	}
	// Non-blocking already: NewFile hands it to the runtime's poller, so
	// that a write of input can wait (and be given a deadline) without a
	// thread.
	return read, os.NewFile(uintptr(t), "ptmx"), nil
}
