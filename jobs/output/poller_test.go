package output

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/internal/epoll"
)

func newPoller(t *testing.T) *Poller {
	t.Helper()
	p, err := NewPoller()
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// rawPipe returns the descriptors of a new pipe: the read end for a Poller,
// the write end as an *os.File for the test.
func rawPipe(t *testing.T) (int, *os.File) {
	t.Helper()
	var fds [2]int
	require.NoError(t, unix.Pipe2(fds[:], unix.O_CLOEXEC))
	w := os.NewFile(uintptr(fds[1]), "w")
	t.Cleanup(func() { w.Close() })
	return fds[0], w
}

// waitDone waits for a stream's done.
func waitDone(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end")
	}
}

// The Poller cuts lines exactly as Pump does, however the writes fall.
func TestPollerLines(t *testing.T) {
	long := strings.Repeat("a", MaxLine)
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"lines", "one\ntwo\n"},
		{"partial last line gets a newline", "one\ntwo"},
		{"CRLF left as is", "one\r\ntwo\r\n"},
		{"line of MaxLine is whole", long + "\nb\n"},
		{"line of MaxLine+1 is cut", long + "bc\n"},
		{"longer line cut in pieces", long + long + "b\nc\n"},
		{"long partial last line", long + long + "b"},
		{"200 KiB line", strings.Repeat("L", 200<<10) + "\nend"},
	}
	p := newPoller(t)
	for _, tt := range tests {
		for _, chunk := range []int{1 << 20, 1000, 7} {
			t.Run(fmt.Sprintf("%s/writes of %d", tt.name, chunk), func(t *testing.T) {
				var want recorder
				require.NoError(t, Pump(strings.NewReader(tt.in), &want, nil))

				r, w := rawPipe(t)
				var dst recorder
				ring := NewRing(4 * MaxLine)
				done := make(chan struct{})
				p.Add(r, &dst, ring, func() { close(done) })
				for in := tt.in; in != ""; {
					n := min(chunk, len(in))
					_, err := w.WriteString(in[:n])
					require.NoError(t, err)
					in = in[n:]
				}
				require.NoError(t, w.Close())
				waitDone(t, done)
				require.Equal(t, want.lines(t), dst.lines(t))
				kept, _, _ := ring.Since(0)
				require.Equal(t, strings.Join(want.lines(t), ""), string(kept))
			})
		}
	}
}

func TestPollerManyStreams(t *testing.T) {
	const streams, lines = 200, 50
	p := newPoller(t)
	dsts := make([]*recorder, streams)
	writers := make([]*os.File, streams)
	done := make(chan int, streams)
	for i := range streams {
		r, w := rawPipe(t)
		dsts[i], writers[i] = &recorder{}, w
		p.Add(r, dsts[i], nil, func() { done <- i })
	}
	for l := range lines { // interleaved, so that streams are drained again and again
		for i, w := range writers {
			_, err := fmt.Fprintf(w, "stream %d line %d\n", i, l)
			require.NoError(t, err)
		}
	}
	for _, w := range writers {
		require.NoError(t, w.Close())
	}
	ended := map[int]bool{}
	for range streams {
		select {
		case i := <-done:
			require.False(t, ended[i], "done called twice for stream %d", i)
			ended[i] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d streams ended", len(ended), streams)
		}
	}
	for i, d := range dsts {
		got := d.lines(t)
		require.Len(t, got, lines)
		for l, line := range got {
			require.Equal(t, fmt.Sprintf("stream %d line %d\n", i, l), line)
		}
	}
}

// A destination that blocks holds up its own stream only, whose pipe then
// fills; the other streams go on.
func TestPollerBackpressureIsPerStream(t *testing.T) {
	p := newPoller(t)
	slowR, slowW := rawPipe(t)
	pipeSize := setPipeSize(t, slowW, 64<<10)
	g := &gate{entered: make(chan struct{}), open: make(chan struct{})}
	slowDone := make(chan struct{})
	p.Add(slowR, g, nil, func() { close(slowDone) })
	wrote := make(chan error, 1)
	go func() {
		_, err := slowW.Write([]byte(strings.Repeat(strings.Repeat("x", 99)+"\n", 40_000)))
		wrote <- err
	}()
	<-g.entered
	require.Eventually(t, func() bool { return unread(slowW) > pipeSize-os.Getpagesize() },
		10*time.Second, time.Millisecond, "the slow stream's pipe fills")

	fastR, fastW := rawPipe(t)
	var fast recorder
	fastDone := make(chan struct{})
	p.Add(fastR, &fast, nil, func() { close(fastDone) })
	_, err := fastW.WriteString("quick\n")
	require.NoError(t, err)
	require.NoError(t, fastW.Close())
	waitDone(t, fastDone)
	require.Equal(t, []string{"quick\n"}, fast.lines(t))

	select {
	case err := <-wrote:
		t.Fatalf("the slow write completed while its destination blocked: %v", err)
	default:
	}
	close(g.open)
	require.NoError(t, <-wrote)
	require.NoError(t, slowW.Close())
	waitDone(t, slowDone)
}

// A quiet stream costs neither a goroutine nor a buffer.
func TestPollerIdleStreamsHoldNothing(t *testing.T) {
	const streams = 100
	p := newPoller(t)
	before := runtime.NumGoroutine()
	dsts := make([]*recorder, streams)
	for i := range streams {
		r, w := rawPipe(t)
		dsts[i] = &recorder{}
		p.Add(r, dsts[i], nil, func() {})
		_, err := w.WriteString("hello\n")
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		for _, d := range dsts {
			if len(d.lines(t)) != 1 {
				return false
			}
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, s := range p.streams {
			if s.draining || s.pump.buf != nil {
				return false
			}
		}
		return true
	}, 10*time.Second, time.Millisecond, "idle streams keep no buffer")
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+5 },
		10*time.Second, time.Millisecond, "idle streams keep no goroutine")
}

// A line that is held when the stream goes quiet keeps its buffer, and
// Close passes it on.
func TestPollerCloseEndsIdleStreams(t *testing.T) {
	p, err := NewPoller()
	require.NoError(t, err)
	r, w := rawPipe(t)
	var dst recorder
	done := make(chan struct{})
	p.Add(r, &dst, nil, func() { close(done) })
	_, err = w.WriteString("whole\npartial")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(dst.lines(t)) == 1 }, 10*time.Second, time.Millisecond)
	require.NoError(t, p.Close())
	waitDone(t, done)
	require.Equal(t, []string{"whole\n", "partial\n"}, dst.lines(t))
	_, err = unix.FcntlInt(uintptr(r), unix.F_GETFD, 0)
	require.ErrorIs(t, err, unix.EBADF, "the pipe is closed")
}

// Output left in a pipe whose writer has gone must reach the destination
// even when Close comes before the Poller has seen the pipe's last event
// (shutdown right after the last process ended).
func TestPollerCloseReadsWhatIsLeft(t *testing.T) {
	p, err := NewPoller()
	require.NoError(t, err)
	r, w := rawPipe(t)
	var dst recorder
	done := make(chan struct{})
	p.Add(r, &dst, nil, func() { close(done) })
	// Stand for an event not handled yet: the pipe is no longer watched.
	require.NoError(t, p.ep.Ctl(unix.EPOLL_CTL_DEL, r, nil))
	_, err = w.WriteString("last words\nno newline")
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, p.Close())
	waitDone(t, done)
	require.Equal(t, []string{"last words\n", "no newline\n"}, dst.lines(t))
}

// Close returns only once the streams being drained have ended: what
// comes after would otherwise be lost when taskmasterd exits.
func TestPollerCloseWaitsForDrains(t *testing.T) {
	p, err := NewPoller()
	require.NoError(t, err)
	r, w := rawPipe(t)
	g := &gate{entered: make(chan struct{}), open: make(chan struct{})}
	done := make(chan struct{})
	p.Add(r, g, nil, func() { close(done) })
	_, err = w.WriteString("first\n")
	require.NoError(t, err)
	<-g.entered // a drain is under way, blocked in the destination
	_, err = w.WriteString("second\n")
	require.NoError(t, err)
	require.NoError(t, w.Close())
	time.AfterFunc(50*time.Millisecond, func() { close(g.open) })
	require.NoError(t, p.Close())
	select {
	case <-done:
	default:
		t.Fatal("Close returned while a stream was still being drained")
	}
}

// When epoll refuses a pipe, the goroutine that pumps it instead gets it
// back in blocking mode: a non-blocking descriptor that the runtime's
// poller does not take either (epoll full) would read EAGAIN, end the
// stream and SIGPIPE the process.
func TestPollerFallbackIsBlocking(t *testing.T) {
	p := newPoller(t)
	r, w := rawPipe(t)
	var dst recorder
	done := make(chan struct{})
	p.mu.Lock()
	ep := p.ep
	p.ep = new(epoll.Epoll) // descriptor 0, no epoll instance: epoll_ctl fails
	p.mu.Unlock()
	p.Add(r, &dst, nil, func() { close(done) })
	p.mu.Lock()
	p.ep = ep
	p.mu.Unlock()
	flags, err := unix.FcntlInt(uintptr(r), unix.F_GETFL, 0)
	require.NoError(t, err)
	require.Zero(t, flags&unix.O_NONBLOCK, "the fallback's pipe is blocking")
	_, err = w.WriteString("still pumped\n")
	require.NoError(t, err)
	require.NoError(t, w.Close())
	waitDone(t, done)
	require.Equal(t, []string{"still pumped\n"}, dst.lines(t))
}

// A destination that blocks for ever cannot keep Shutdown from returning
// once its context ends: taskmasterd must still exit.
func TestPollerShutdownGivesUp(t *testing.T) {
	p, err := NewPoller()
	require.NoError(t, err)
	r, w := rawPipe(t)
	g := &gate{entered: make(chan struct{}), open: make(chan struct{})}
	defer close(g.open)
	p.Add(r, g, nil, func() {})
	_, err = w.WriteString("stuck\n")
	require.NoError(t, err)
	<-g.entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, p.Shutdown(ctx), context.DeadlineExceeded)
}

// pipeFull is a Destination that, on each call, waits until the writer has
// filled the pipe again (or is done), so that every read the Poller makes
// finds a full pipe: a process that writes faster than its output is
// taken.
type pipeFull struct {
	recorder
	t    *testing.T
	w    int         // the pipe's write end
	done atomic.Bool // the writer has written everything
}

func (d *pipeFull) WriteLines(p []byte) {
	d.recorder.WriteLines(p)
	// Called from the Poller's goroutine: errors are reported, not fatal.
	for deadline := time.Now().Add(10 * time.Second); !d.done.Load(); time.Sleep(50 * time.Microsecond) {
		size, err := unix.FcntlInt(uintptr(d.w), unix.F_GETPIPE_SZ, 0)
		held, err2 := unix.IoctlGetInt(d.w, unix.TIOCINQ) // FIONREAD
		if err != nil || err2 != nil || time.Now().After(deadline) {
			d.t.Errorf("waiting for a full pipe: %v, %v", err, err2)
			return
		}
		if held > size-4096 { // full: the first page may be partly read
			return
		}
	}
}

// A stream whose pipe is full when read grows its buffer past the kernel's
// 64 KiB pipe, and its pipe with it, so that it is read a MiB at a time;
// every line still arrives whole, and once the stream pauses it holds no
// buffer.
func TestPollerBusyStreamGrowsItsPipe(t *testing.T) {
	p := newPoller(t)
	r, w := rawPipe(t)
	before, err := unix.FcntlInt(w.Fd(), unix.F_GETPIPE_SZ, 0)
	require.NoError(t, err)
	require.Less(t, before, pipeSize(), "the kernel's default pipe is smaller than what growPipe asks for")
	dst := &pipeFull{t: t, w: int(w.Fd())}
	p.Add(r, dst, nil, func() {})
	line := strings.Repeat("p", 63) + "\n"
	in := strings.Repeat(line, (4<<20)/len(line))
	_, err = w.WriteString(in)
	require.NoError(t, err)
	dst.done.Store(true)
	after, err := unix.FcntlInt(w.Fd(), unix.F_GETPIPE_SZ, 0)
	require.NoError(t, err)
	require.Equal(t, pipeSize(), after, "the busy stream's pipe grew")
	require.Eventually(t, func() bool { return len(dst.lines(t)) == len(in)/len(line) }, 10*time.Second, time.Millisecond)
	require.Equal(t, splitLines(in), dst.lines(t))
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, s := range p.streams {
			if s.draining || s.pump.buf != nil || !s.busy {
				return false
			}
		}
		return true
	}, 10*time.Second, time.Millisecond, "a busy stream that pauses gives its full-size buffer back")
}

// A lingering drain takes data that comes while it waits, reports a pipe
// that stays empty once its time is up, and an ended pipe at once; past
// maxLingering drains, a stream does not linger at all.
func TestPollerLinger(t *testing.T) {
	fd, w := rawPipe(t)
	t.Cleanup(func() { unix.Close(fd) })
	s := &stream{fd: fd}

	_, err := w.Write([]byte("more\n"))
	require.NoError(t, err)
	require.True(t, s.linger(), "data waiting")

	var buf [16]byte
	_, err = unix.Read(fd, buf[:])
	require.NoError(t, err)
	start := time.Now()
	require.False(t, s.linger(), "nothing came")
	require.GreaterOrEqual(t, time.Since(start), lingerTimeout*time.Millisecond)

	lingering.Store(maxLingering)
	_, err = w.Write([]byte("more\n"))
	require.NoError(t, err)
	require.False(t, s.linger(), "too many lingering already")
	lingering.Store(0)

	require.NoError(t, w.Close())
	require.True(t, s.linger(), "the pipe ended: the next read says so")
	require.Zero(t, lingering.Load())
}

// A busy stream, whose drain lingers once its pipe is empty, loses
// nothing and is read twice nothing: what it writes after a pause arrives
// once, whether the lingering drain or a new one reads it.
func TestPollerBusyStreamLingers(t *testing.T) {
	p := newPoller(t)
	fd, w := rawPipe(t)
	rec := &recorder{}
	done := make(chan struct{})
	p.Add(fd, rec, nil, func() { close(done) })

	line := strings.Repeat("x", 1023) + "\n"
	n := 4 * maxBuffer / len(line)
	_, err := w.WriteString(strings.Repeat(line, n))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(rec.lines(t)) == n }, 10*time.Second, time.Millisecond)
	_, err = w.WriteString("after a pause\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(rec.lines(t)) == n+1 }, 10*time.Second, time.Millisecond)
	require.Equal(t, "after a pause\n", rec.lines(t)[n])
	p.mu.Lock()
	require.Len(t, p.streams, 1)
	p.mu.Unlock()
	require.NoError(t, w.Close())
	waitDone(t, done)
	require.Len(t, rec.lines(t), n+1)
}
