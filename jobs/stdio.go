package jobs

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/jobs/attach"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
	"github.com/taskmaster/taskmaster/jobs/output"
	"github.com/taskmaster/taskmaster/reaper"
)

// stdio is the standard input, output and error of a process being started:
// what the child gets, and what taskmasterd reads from.
type stdio struct {
	child [3]int          // the child's descriptors 0, 1 and 2
	owned [3]bool         // child[i] is a pipe's write end, closed in the parent once the child has it
	pumps []func()        // started once the child runs
	undo  []func()        // release what pumps would have released
	proc  *attach.Process // the process as clients attach to it; nil without a Point
	tty   *os.File        // the terminal's side the child gets, closed in the parent once the child has it
}

// shared returns what every start uses, opened on the first: /dev/null and
// (unless the config gave one) the Poller. Opening /dev/null once saves two
// opens per start; one Poller saves two goroutines per process.
func (st *starter) shared() (null int, poller *output.Poller, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.null == nil {
		f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			return 0, nil, err
		}
		st.null = f
	}
	if st.poller == nil {
		if st.poller, err = output.NewPoller(); err != nil {
			return 0, nil, err
		}
	}
	return int(st.null.Fd()), st.poller, nil
}

func (st *starter) openStdio(p *Proc) (*stdio, error) {
	s := &stdio{}
	if p.Interactive {
		// Fd puts each back in blocking mode, as the child expects.
		s.child = [3]int{int(os.Stdin.Fd()), int(os.Stdout.Fd()), int(os.Stderr.Fd())}
		return s, nil
	}
	null, poller, err := st.shared()
	if err != nil {
		return nil, err
	}
	if p.Spec.TTY {
		return s, st.openTerminal(s, p, poller)
	}
	if p.Point != nil {
		s.proc = p.Point.NewProcess(nil)
	}
	s.child[0] = null
	streams := []struct {
		out     jobfile.Output
		console *output.Console
		name    string
	}{{p.Spec.Stdout, st.cfg.Stdout, "stdout"}, {p.Spec.Stderr, st.cfg.Stderr, "stderr"}}
	for i, stream := range streams {
		if stream.out.Kind == jobfile.OutputDiscard {
			s.child[i+1] = null
			continue
		}
		if err := st.openStream(s, i+1, stream.out, stream.console, stream.name, p, poller); err != nil {
			s.abort()
			s.closeChildEnds()
			return nil, err
		}
	}
	return s, nil
}

func (st *starter) openStream(s *stdio, fd int, out jobfile.Output, console *output.Console, name string, p *Proc, poller *output.Poller) error {
	dst, release, err := st.destination(out, console, name, p)
	if err != nil {
		return err
	}
	// A bare pipe, not an os.File: the Poller reads the read end, and the
	// write end only goes to the child, so neither belongs in the runtime's
	// poller. Both ends are blocking; the Poller makes its own non-blocking.
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		release()
		return fmt.Errorf("%s: %w", name, os.NewSyscallError("pipe2", err))
	}
	r := pipe[0]
	s.child[fd], s.owned[fd] = pipe[1], true
	s.addPump(poller, r, dst, p.Ring, release)
	return nil
}

// destination opens where an output stream goes: a log file, or the
// console with the instance's prefix. release lets go of it once the
// stream has ended.
func (st *starter) destination(out jobfile.Output, console *output.Console, name string, p *Proc) (dst output.Destination, release func(), err error) {
	switch out.Kind {
	case jobfile.OutputFile:
		f, err := st.cfg.Files.OpenAs(out.Path, logFileMode(p.Spec), logFileOwner(p.Spec))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		return f, func() { _ = f.Close() }, nil
	case jobfile.OutputDiscard:
		return output.Discard, func() {}, nil
	}
	return console.Lines(p.Name + " | "), func() {}, nil
}

// addPump arranges for the Poller to read r once the child runs, tapped
// for attached clients when there is a Point, and for r to be closed and
// release called if the child never starts.
func (s *stdio) addPump(poller *output.Poller, r int, dst output.Destination, ring *output.Ring, release func()) {
	var tap output.Tap
	done := release
	if s.proc != nil {
		var ended func()
		tap, ended = s.proc.Stream()
		done = func() { release(); ended() }
	}
	s.pumps = append(s.pumps, func() { poller.AddTapped(r, dst, ring, tap, done) })
	s.undo = append(s.undo, func() { _ = unix.Close(r); release() })
}

// logFileMode is the mode of a new log file: 0666 less the job's umask, as
// if the job had created it (taskmasterd's own umask applies too).
func logFileMode(spec *jobfile.Spec) os.FileMode {
	if spec.Umask < 0 {
		return 0o666
	}
	return 0o666 &^ os.FileMode(spec.Umask)
}

// logFileOwner is whose permissions a job's log files are opened with: the
// job's user, if it runs as one.
func logFileOwner(spec *jobfile.Spec) *output.Owner {
	if spec.User == nil {
		return nil
	}
	u := spec.User
	return &output.Owner{UID: u.UID, GID: u.GID, Groups: u.Groups}
}

func (s *stdio) fds() []uintptr {
	return []uintptr{uintptr(s.child[0]), uintptr(s.child[1]), uintptr(s.child[2])}
}

// pump starts reading the output pipes; the child has its ends by now.
func (s *stdio) pump() {
	for _, p := range s.pumps {
		p()
	}
}

func (s *stdio) abort() {
	for _, u := range s.undo {
		u()
	}
	s.undo = nil
	if s.proc != nil {
		s.proc.Abort()
	}
}

// begin tells attached clients' Point that the child runs.
func (s *stdio) begin() {
	if s.proc != nil {
		s.proc.Begin()
	}
}

// exited returns onExit, which also tells the Point how the child ended.
func (s *stdio) exited(onExit func(reaper.Exit)) func(reaper.Exit) {
	if s.proc == nil {
		return onExit
	}
	proc := s.proc
	return func(e reaper.Exit) {
		ex := attach.Exit{Code: e.Code()}
		if e.Status.Signaled() {
			ex.Signal = jobfile.SignalName(e.Status.Signal())
		}
		proc.Exited(ex)
		onExit(e)
	}
}

func (s *stdio) closeChildEnds() {
	for i, fd := range s.child {
		if s.owned[i] {
			_ = unix.Close(fd)
		}
	}
	if s.tty != nil {
		_ = s.tty.Close()
		s.tty = nil
	}
}
