package output

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// tapRecorder is a Tap that keeps what it saw and says when it saw more.
type tapRecorder struct {
	mu   sync.Mutex
	seen bytes.Buffer
	more chan struct{}
}

func newTapRecorder() *tapRecorder { return &tapRecorder{more: make(chan struct{}, 1)} }

func (r *tapRecorder) Raw(p []byte) {
	r.mu.Lock()
	r.seen.Write(p)
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

// await waits until the tap has seen want, in all.
func (r *tapRecorder) await(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		got := r.seen.String()
		r.mu.Unlock()
		if got == want {
			return
		}
		select {
		case <-r.more:
		case <-deadline:
			t.Fatalf("the tap saw %q, want %q", got, want)
		}
	}
}

// A tap sees what comes as it comes: a prompt without its newline reaches
// it at once, while the destination and the ring wait for the whole line.
func TestPollerTapSeesPartialLines(t *testing.T) {
	p := newPoller(t)
	r, w := rawPipe(t)
	var dst recorder
	ring := NewRing(1024)
	tap := newTapRecorder()
	done := make(chan struct{})
	p.AddTapped(r, &dst, ring, tap, func() { close(done) })

	_, err := w.WriteString("/ # ")
	require.NoError(t, err)
	tap.await(t, "/ # ")
	require.Empty(t, dst.lines(t), "no whole line yet")

	_, err = w.WriteString("echo hi\nhi\n")
	require.NoError(t, err)
	tap.await(t, "/ # echo hi\nhi\n")
	require.NoError(t, w.Close())
	waitDone(t, done)
	require.Equal(t, []string{"/ # echo hi\n", "hi\n"}, dst.lines(t))
	kept, _, _ := ring.Since(0)
	require.Equal(t, "/ # echo hi\nhi\n", string(kept))
}

// The master side of a terminal is read like a pipe, and ends (EIO rather
// than end of file) once the last holder of the terminal's side has closed
// it: what was written before is passed on first.
func TestPollerReadsATerminal(t *testing.T) {
	p := newPoller(t)
	master, tty, err := pty.Open()
	require.NoError(t, err)
	defer master.Close()
	fd, err := unix.FcntlInt(master.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	require.NoError(t, err)
	var dst recorder
	tap := newTapRecorder()
	done := make(chan struct{})
	p.AddTapped(fd, &dst, nil, tap, func() { close(done) })

	_, err = tty.WriteString("one\ntwo")
	require.NoError(t, err)
	require.NoError(t, tty.Close())
	waitDone(t, done)
	// The terminal turns \n into \r\n; the unfinished line gets a \n.
	require.Equal(t, []string{"one\r\n", "two\n"}, dst.lines(t))
	tap.await(t, "one\r\ntwo")
}

// Discard drops what it is given, and a stream to it is still read (and
// tapped) to its end.
func TestPollerDiscardStillReads(t *testing.T) {
	p := newPoller(t)
	r, w := rawPipe(t)
	tap := newTapRecorder()
	done := make(chan struct{})
	p.AddTapped(r, Discard, nil, tap, func() { close(done) })
	big := strings.Repeat("x", 1<<20) // more than a pipe holds: it must be read
	_, err := w.WriteString(big)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	waitDone(t, done)
	tap.await(t, big)
}

// Pump taps too (the Poller's fallback for a pipe epoll refuses).
func TestPumpTapped(t *testing.T) {
	var dst recorder
	tap := newTapRecorder()
	require.NoError(t, pumpTapped(strings.NewReader("a\nb"), &dst, nil, tap))
	require.Equal(t, []string{"a\n", "b\n"}, dst.lines(t))
	tap.await(t, "a\nb")
}
