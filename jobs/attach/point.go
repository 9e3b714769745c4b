package attach

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/jobs/output"
)

// Errors of Attach and of a Session.
var (
	// ErrNotRunning: the instance has no process to attach to.
	ErrNotRunning = errors.New("no process to attach to")
	// ErrNoTerminal: the process has no terminal, so it takes no input
	// and has no size.
	ErrNoTerminal = errors.New("the process has no terminal (its job has no \"tty\": true): input is not possible")
)

// Size is the size of a terminal in character cells.
type Size struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// DefaultSize is the size of a new terminal until a client sets one: the
// VT100's, which is also what docker gives a container's terminal.
var DefaultSize = Size{Rows: 24, Cols: 80}

// Valid reports whether s has both dimensions.
func (s Size) Valid() bool { return s.Rows > 0 && s.Cols > 0 }

// DefaultBuffer is how many bytes of output a session may fall behind by
// before it is dropped.
const DefaultBuffer = 256 << 10

// Exit is how a process ended.
type Exit struct {
	Code   int    // its exit code, or 128+n when signal n killed it
	Signal string // the name of the signal that killed it, or ""
}

// Point is where clients attach to one instance. Create it with NewPoint;
// it is safe for concurrent use.
type Point struct {
	mu       sync.Mutex
	size     Size
	proc     *Process // the process begun last
	sessions map[*Session]struct{}
	attached atomic.Int32 // len(sessions), for taps to skip the lock when nobody is attached
}

// NewPoint returns a Point with no process, whose first terminal will
// have DefaultSize.
func NewPoint() *Point {
	return &Point{size: DefaultSize, sessions: make(map[*Session]struct{})}
}

// Attached returns how many sessions are attached.
func (p *Point) Attached() int { return int(p.attached.Load()) }

// Size returns the size a new terminal gets: DefaultSize, or the last size
// a client set.
func (p *Point) Size() Size {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.size
}

// Process is one process of an instance, as its Point sees it: its
// terminal, its output streams and its end.
type Process struct {
	point   *Point
	term    *os.File // the terminal's master side, for input and sizes; nil without a terminal
	streams int      // output streams not ended yet
	exit    *Exit    // how it ended, once it has
	over    bool     // it exited and its streams ended: its sessions have ended
}

// NewProcess returns the record of a process about to start. term, when
// not nil, is the master side of the process's terminal, non-blocking: the
// Process owns it from now on, and closes it once every output stream has
// ended (or at Abort). Call Stream for each output stream, then Begin once
// the process runs, or Abort if it could not be started.
func (p *Point) NewProcess(term *os.File) *Process {
	return &Process{point: p, term: term}
}

// Stream returns the tap of one output stream of the process, and the
// function to call once that stream has ended.
func (pr *Process) Stream() (output.Tap, func()) {
	pr.point.mu.Lock()
	pr.streams++
	pr.point.mu.Unlock()
	var once sync.Once
	return tap{pr}, func() { once.Do(pr.streamEnded) }
}

// Begin makes pr the process clients attach to. Sessions still attached to
// an earlier process, which has exited (what it left behind keeps its
// output open), end now.
func (pr *Process) Begin() {
	p := pr.point
	p.mu.Lock()
	defer p.mu.Unlock()
	if old := p.proc; old != nil && old.exit != nil {
		p.endSessions(old, End{Exit: old.exit})
	}
	p.proc = pr
}

// Abort releases a process that could not be started.
func (pr *Process) Abort() {
	pr.point.mu.Lock()
	defer pr.point.mu.Unlock()
	pr.closeTerm()
}

// Exited records how the process ended. Its sessions end once its output
// streams have ended too, so that they see its last output first.
func (pr *Process) Exited(e Exit) {
	pr.point.mu.Lock()
	defer pr.point.mu.Unlock()
	pr.exit = &e
	pr.checkOver()
}

func (pr *Process) streamEnded() {
	pr.point.mu.Lock()
	defer pr.point.mu.Unlock()
	pr.streams--
	if pr.streams == 0 {
		// Nobody holds the terminal any more: no input can reach anyone.
		pr.closeTerm()
	}
	pr.checkOver()
}

// checkOver ends the sessions of a process that has exited and whose
// streams have ended. p.mu must be held.
func (pr *Process) checkOver() {
	if pr.over || pr.exit == nil || pr.streams > 0 {
		return
	}
	pr.over = true
	pr.point.endSessions(pr, End{Exit: pr.exit})
}

// closeTerm closes the terminal's master side. p.mu must be held.
func (pr *Process) closeTerm() {
	if pr.term != nil {
		_ = pr.term.Close()
		pr.term = nil
	}
}

// setSize sets the terminal's size, which sends SIGWINCH to its
// foreground process group. p.mu must be held.
func (pr *Process) setSize(s Size) error {
	if pr.term == nil {
		return nil // ended: the size is kept for the next terminal
	}
	rc, err := pr.term.SyscallConn()
	if err != nil {
		return err
	}
	var ioErr error
	err = rc.Control(func(fd uintptr) {
		ioErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: s.Rows, Col: s.Cols})
	})
	return errors.Join(err, ioErr)
}

// tap passes a stream's reads to the sessions attached to its process.
type tap struct{ pr *Process }

func (t tap) Raw(b []byte) {
	p := t.pr.point
	if p.attached.Load() == 0 {
		return // the usual case: nobody is attached, and no lock is taken
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for s := range p.sessions {
		if s.proc == t.pr {
			s.push(b)
		}
	}
}

// endSessions ends the sessions attached to pr. p.mu must be held.
func (p *Point) endSessions(pr *Process, e End) {
	for s := range p.sessions {
		if s.proc == pr {
			p.removeLocked(s)
			s.finish(e)
		}
	}
}

func (p *Point) removeLocked(s *Session) {
	if _, ok := p.sessions[s]; ok {
		delete(p.sessions, s)
		p.attached.Add(-1)
	}
}
