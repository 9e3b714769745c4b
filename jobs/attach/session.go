package attach

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// maxChunk bounds the output one call of Next returns.
const maxChunk = 32 << 10

// inputTimeout bounds one write of input: a program that reads none of its
// input lets the terminal fill up, and the client must then be told rather
// than left hanging.
var inputTimeout = 5 * time.Second

// ErrInputStuck: the terminal took no input for inputTimeout, because its
// program reads none.
var ErrInputStuck = errors.New("the terminal takes no more input: its program is not reading it")

// End says why a session ended.
type End struct {
	Exit   *Exit  // the process exited: how; nil otherwise
	Reason string // when Exit is nil: "detached", or why the session was dropped
}

// Session is one client attached to a process. Its methods are safe for
// concurrent use: one goroutine takes the output with Next while another
// passes input on.
type Session struct {
	point *Point
	proc  *Process
	input *os.File // its own copy of the terminal's master side; nil without a terminal
	max   int      // bytes of output it may fall behind by

	mu    sync.Mutex
	buf   []byte        // output not taken yet
	end   *End          // why it ended, once it has
	ready chan struct{} // a value when there is output or an end to take
}

// Attach attaches a new session to the instance's process. buffer bounds
// how many bytes of output the session may fall behind by before it is
// dropped (DefaultBuffer if not positive). It fails with ErrNotRunning when
// the instance has no process, or its process has exited.
func (p *Point) Attach(buffer int) (*Session, error) {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.proc
	if pr == nil || pr.exit != nil {
		return nil, ErrNotRunning
	}
	s := &Session{point: p, proc: pr, max: buffer, ready: make(chan struct{}, 1)}
	if pr.term != nil {
		in, err := dupFile(pr.term)
		if err != nil {
			return nil, fmt.Errorf("attach: %w", err)
		}
		s.input = in
	}
	p.sessions[s] = struct{}{}
	p.attached.Add(1)
	return s, nil
}

// dupFile returns a file of its own on what f is open on: a session's
// input has its own write deadline, and closing it ends a write under way
// without touching anyone else's.
func dupFile(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd, dupErr := -1, error(nil)
	if err := rc.Control(func(old uintptr) {
		fd, dupErr = unix.FcntlInt(old, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, os.NewSyscallError("fcntl", dupErr)
	}
	// f is non-blocking, and so is the copy (the flag belongs to the open
	// file, which they share): NewFile hands it to the runtime's poller,
	// so deadlines work.
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// TTY reports whether the process has a terminal, and so takes input.
func (s *Session) TTY() bool { return s.input != nil }

// Next returns the next output, at most maxChunk bytes of it, as soon as
// there is some; once the session has ended and its output is all taken,
// it returns why it ended. It returns ctx's error if ctx ends first.
func (s *Session) Next(ctx context.Context) ([]byte, *End, error) {
	for {
		s.mu.Lock()
		if n := min(len(s.buf), maxChunk); n > 0 {
			out := append([]byte(nil), s.buf[:n]...)
			s.buf = s.buf[n:]
			if len(s.buf) == 0 {
				s.buf = keep(s.buf)
			}
			s.mu.Unlock()
			return out, nil, nil
		}
		end := s.end
		s.mu.Unlock()
		if end != nil {
			return nil, end, nil
		}
		select {
		case <-s.ready:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// keepBuffer is the largest buffer a session keeps once it has taken all
// its output: a steady stream reuses it, a burst's is let go.
const keepBuffer = 32 << 10

// keep returns an empty buffer: b's memory, unless it grew past
// keepBuffer.
func keep(b []byte) []byte {
	if cap(b) > keepBuffer {
		return nil
	}
	return b[:0:cap(b)]
}

// Write passes input to the terminal, as if typed there. It fails with
// ErrNoTerminal for a process without one, and with ErrInputStuck when the
// terminal takes nothing for a while.
func (s *Session) Write(b []byte) (int, error) {
	if s.input == nil {
		return 0, ErrNoTerminal
	}
	_ = s.input.SetWriteDeadline(time.Now().Add(inputTimeout))
	n, err := s.input.Write(b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = ErrInputStuck
	}
	return n, err
}

// Resize sets the terminal's size, which sends SIGWINCH to its foreground
// process group; the size is also kept for the instance's next terminals.
func (s *Session) Resize(size Size) error {
	if s.input == nil {
		return ErrNoTerminal
	}
	if !size.Valid() {
		return fmt.Errorf("bad terminal size %dx%d: rows and columns must be at least 1", size.Rows, size.Cols)
	}
	p := s.point
	p.mu.Lock()
	defer p.mu.Unlock()
	p.size = size
	return s.proc.setSize(size)
}

// Close detaches the session, if it has not ended already. The process
// goes on.
func (s *Session) Close() {
	p := s.point
	p.mu.Lock()
	p.removeLocked(s)
	p.mu.Unlock()
	s.finish(End{Reason: "detached"})
}

// push adds output for the client, or drops the session when that would
// put it more than its buffer behind. p.mu is held: it never blocks.
func (s *Session) push(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.end != nil {
		return
	}
	if len(s.buf)+len(b) > s.max {
		behind := len(s.buf) + len(b)
		s.point.removeLocked(s)
		s.buf = nil
		s.endLocked(End{Reason: fmt.Sprintf("dropped: the client fell more than %d bytes behind the output (%d)", s.max, behind)})
		return
	}
	s.buf = append(s.buf, b...)
	s.wake()
}

// finish ends the session with e, unless it has ended already.
func (s *Session) finish(e End) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked(e)
}

func (s *Session) endLocked(e End) {
	if s.end != nil {
		return
	}
	s.end = &e
	if s.input != nil {
		// Ends a Write under way: the session has nothing more to say.
		_ = s.input.Close()
	}
	s.wake()
}

func (s *Session) wake() {
	select {
	case s.ready <- struct{}{}:
	default: // a wake-up is pending already
	}
}
