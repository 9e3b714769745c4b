package attach

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// next takes the session's next output or end, failing the test if none
// comes in time.
func next(t *testing.T, s *Session) ([]byte, *End) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, end, err := s.Next(ctx)
	require.NoError(t, err)
	return out, end
}

// started returns a process of p with one output stream, begun.
func started(p *Point, term *os.File) (*Process, func([]byte), func()) {
	pr := p.NewProcess(term)
	tap, done := pr.Stream()
	pr.Begin()
	return pr, tap.Raw, done
}

// Every session attached sees the output, in order; a session ends once
// the process has exited and its output has ended, whichever comes last,
// and sees all the output first.
func TestSessionsSeeOutputThenExit(t *testing.T) {
	for _, order := range []string{"exit first", "streams first"} {
		t.Run(order, func(t *testing.T) {
			p := NewPoint()
			pr, raw, done := started(p, nil)
			a, err := p.Attach(0)
			require.NoError(t, err)
			b, err := p.Attach(0)
			require.NoError(t, err)
			require.False(t, a.TTY())

			raw([]byte("/ # "))
			raw([]byte("echo hi\n"))
			for _, s := range []*Session{a, b} {
				out, end := next(t, s)
				require.Nil(t, end)
				require.Equal(t, "/ # echo hi\n", string(out))
			}
			raw([]byte("last words\n"))
			if order == "exit first" {
				pr.Exited(Exit{Code: 3})
				done()
			} else {
				done()
				pr.Exited(Exit{Code: 3})
			}
			for _, s := range []*Session{a, b} {
				out, end := next(t, s)
				require.Nil(t, end)
				require.Equal(t, "last words\n", string(out))
				_, end = next(t, s)
				require.Equal(t, &End{Exit: &Exit{Code: 3}}, end)
			}
			_, err = p.Attach(0)
			require.ErrorIs(t, err, ErrNotRunning)
		})
	}
}

// The exit alone does not end a session while the output goes on (what the
// process left behind still writes): only both do.
func TestExitWaitsForStreams(t *testing.T) {
	p := NewPoint()
	pr, raw, done := started(p, nil)
	s, err := p.Attach(0)
	require.NoError(t, err)
	pr.Exited(Exit{Code: 143, Signal: "SIGTERM"})
	raw([]byte("after the exit\n"))
	out, end := next(t, s)
	require.Nil(t, end)
	require.Equal(t, "after the exit\n", string(out))
	done()
	_, end = next(t, s)
	require.Equal(t, &End{Exit: &Exit{Code: 143, Signal: "SIGTERM"}}, end)
}

// The next process ends the sessions of one that exited, even if what it
// left behind still holds its output open.
func TestBeginEndsSessionsOfAnExitedProcess(t *testing.T) {
	p := NewPoint()
	pr, _, _ := started(p, nil)
	s, err := p.Attach(0)
	require.NoError(t, err)
	pr.Exited(Exit{Code: 1})
	started(p, nil)
	_, end := next(t, s)
	require.Equal(t, &End{Exit: &Exit{Code: 1}}, end)
	// And one can attach to the new process.
	_, err = p.Attach(0)
	require.NoError(t, err)
}

func TestAttachWithoutProcess(t *testing.T) {
	p := NewPoint()
	_, err := p.Attach(0)
	require.ErrorIs(t, err, ErrNotRunning)
	// A process that could not be started is never attached to.
	pr := p.NewProcess(nil)
	pr.Stream()
	pr.Abort()
	_, err = p.Attach(0)
	require.ErrorIs(t, err, ErrNotRunning)
}

// A session that does not take its output is dropped once it is more than
// its buffer behind: the tap never blocks, and the other sessions go on.
func TestSlowSessionIsDropped(t *testing.T) {
	p := NewPoint()
	_, raw, _ := started(p, nil)
	slow, err := p.Attach(1000)
	require.NoError(t, err)
	fast, err := p.Attach(1000)
	require.NoError(t, err)
	chunk := []byte(strings.Repeat("x", 300))
	for i := 0; i < 10; i++ {
		raw(chunk) // would block here, were the tap to wait for slow
		out, end := next(t, fast)
		require.Nil(t, end)
		require.Equal(t, chunk, out)
	}
	_, end := next(t, slow)
	require.NotNil(t, end)
	require.Nil(t, end.Exit)
	require.Contains(t, end.Reason, "dropped: the client fell more than 1000 bytes behind")
	require.Equal(t, int32(1), p.attached.Load())
}

// A detached session ends; the process goes on, and others stay attached.
func TestCloseDetaches(t *testing.T) {
	p := NewPoint()
	_, raw, _ := started(p, nil)
	a, err := p.Attach(0)
	require.NoError(t, err)
	b, err := p.Attach(0)
	require.NoError(t, err)
	a.Close()
	_, end := next(t, a)
	require.Equal(t, &End{Reason: "detached"}, end)
	raw([]byte("still here\n"))
	out, _ := next(t, b)
	require.Equal(t, "still here\n", string(out))
	a.Close() // twice is harmless
}

// Next gives up when its context ends.
func TestNextCancelled(t *testing.T) {
	p := NewPoint()
	started(p, nil)
	s, err := p.Attach(0)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = s.Next(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

// terminal returns the master side of a new terminal as the starter makes
// it (non-blocking) and its other side.
func terminal(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	master, tty, err := pty.Open()
	require.NoError(t, err)
	t.Cleanup(func() { master.Close(); tty.Close() })
	fd, err := unix.FcntlInt(master.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	require.NoError(t, err)
	require.NoError(t, unix.SetNonblock(fd, true))
	return os.NewFile(uintptr(fd), "ptmx"), tty
}

// Input reaches the terminal as if typed there, from every session; a
// resize reaches the terminal and is kept for the next one.
func TestTerminalInputAndSize(t *testing.T) {
	p := NewPoint()
	require.Equal(t, Size{Rows: 24, Cols: 80}, p.Size())
	term, tty := terminal(t)
	_, _, done := started(p, term)
	a, err := p.Attach(0)
	require.NoError(t, err)
	b, err := p.Attach(0)
	require.NoError(t, err)
	require.True(t, a.TTY())

	require.NoError(t, setRaw(tty))
	_, err = a.Write([]byte("one "))
	require.NoError(t, err)
	_, err = b.Write([]byte("two"))
	require.NoError(t, err)
	buf := make([]byte, 7)
	_, err = io.ReadFull(tty, buf)
	require.NoError(t, err)
	require.Equal(t, "one two", string(buf))

	require.NoError(t, a.Resize(Size{Rows: 50, Cols: 132}))
	ws, err := unix.IoctlGetWinsize(int(tty.Fd()), unix.TIOCGWINSZ)
	require.NoError(t, err)
	require.Equal(t, [2]uint16{50, 132}, [2]uint16{ws.Row, ws.Col})
	require.Equal(t, Size{Rows: 50, Cols: 132}, p.Size())
	require.Error(t, a.Resize(Size{Rows: 0, Cols: 10}))

	// Once its output has ended, the terminal's master side is closed.
	done()
	_, err = term.Write([]byte("x"))
	require.ErrorIs(t, err, os.ErrClosed)
}

func TestNoTerminalNoInput(t *testing.T) {
	p := NewPoint()
	started(p, nil)
	s, err := p.Attach(0)
	require.NoError(t, err)
	_, err = s.Write([]byte("x"))
	require.ErrorIs(t, err, ErrNoTerminal)
	require.ErrorIs(t, s.Resize(DefaultSize), ErrNoTerminal)
}

// A terminal whose program reads nothing fills up: the write gives up and
// says so instead of hanging.
func TestInputStuck(t *testing.T) {
	defer func(d time.Duration) { inputTimeout = d }(inputTimeout)
	inputTimeout = 100 * time.Millisecond
	p := NewPoint()
	term, tty := terminal(t)
	require.NoError(t, setRaw(tty))
	started(p, term)
	s, err := p.Attach(0)
	require.NoError(t, err)
	_, err = s.Write(make([]byte, 4<<20)) // far more than a terminal holds
	require.ErrorIs(t, err, ErrInputStuck)
}

// setRaw puts the terminal in raw mode, so that what is written to its
// master side reaches a reader at once, without echo or line editing.
func setRaw(tty *os.File) error {
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		return err
	}
	tio.Lflag &^= unix.ICANON | unix.ECHO | unix.ISIG
	return unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, tio)
}
