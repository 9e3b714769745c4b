package output

import (
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestPumpLines(t *testing.T) {
	long := strings.Repeat("a", MaxLine)
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"lines", "one\ntwo\n", []string{"one\n", "two\n"}},
		{"empty lines", "\n\nx\n", []string{"\n", "\n", "x\n"}},
		{"partial last line gets a newline", "one\ntwo", []string{"one\n", "two\n"}},
		{"only a partial line", "x", []string{"x\n"}},
		{"CRLF left as is", "one\r\ntwo\r\n", []string{"one\r\n", "two\r\n"}},
		{"line of MaxLine is whole", long + "\nb\n", []string{long + "\n", "b\n"}},
		{"line of MaxLine+1 is cut", long + "bc\n", []string{long + "\n", "bc\n"}},
		{"longer line cut in pieces", long + long + "b\nc\n", []string{long + "\n", long + "\n", "b\n", "c\n"}},
		{"long partial last line", long + long + "b", []string{long + "\n", long + "\n", "b\n"}},
		{"cut exactly at MaxLine pieces", long + long + "\n", []string{long + "\n", long + "\n"}},
	}
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
	}
	for _, tt := range tests {
		for rname, wrap := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				var dst recorder
				ring := NewRing(4 * MaxLine)
				require.NoError(t, Pump(wrap(strings.NewReader(tt.in)), &dst, ring))
				require.Equal(t, tt.want, dst.lines(t))
				kept, _, _ := ring.Since(0)
				require.Equal(t, strings.Join(tt.want, ""), string(kept))
			})
		}
	}
}

func TestPumpReturnsReadError(t *testing.T) {
	boom := errors.New("boom")
	src := io.MultiReader(strings.NewReader("a\nb"), iotest.ErrReader(boom))
	var dst recorder
	require.ErrorIs(t, Pump(src, &dst, nil), boom)
	require.Equal(t, []string{"a\n", "b\n"}, dst.lines(t), "what was read is passed on")
}

// gate is a Destination that blocks every write until it is opened.
type gate struct {
	entered chan struct{} // closed on the first write
	open    chan struct{}
}

func (g *gate) WriteLines(p []byte) {
	select {
	case <-g.entered:
	default:
		close(g.entered)
	}
	<-g.open
}

func TestPumpBackpressure(t *testing.T) {
	r, w := pipe(t)
	pipeSize := setPipeSize(t, w, 64<<10)
	g := &gate{entered: make(chan struct{}), open: make(chan struct{})}
	pumped := make(chan error, 1)
	go func() { pumped <- Pump(r, g, nil) }()

	// Far more than the pipe and Pump's buffer together can hold.
	big := []byte(strings.Repeat(strings.Repeat("x", 99)+"\n", 40_000))
	wrote := make(chan error, 1)
	go func() {
		_, err := w.Write(big)
		wrote <- err
	}()

	<-g.entered
	// Full: the writer blocks. Pump's first read may have taken part of
	// the first page, which the kernel does not fill again, so the pipe
	// holds up to a page less than its capacity then.
	page := os.Getpagesize()
	require.Eventually(t, func() bool { return unread(r) > pipeSize-page },
		10*time.Second, time.Millisecond, "the pipe fills while the destination blocks")
	select {
	case err := <-wrote:
		t.Fatalf("the write completed while the destination blocked: %v", err)
	default:
	}

	close(g.open)
	require.NoError(t, <-wrote, "the write completes once the destination accepts lines")
	require.NoError(t, w.Close())
	require.NoError(t, <-pumped)
}

// control runs fn on f's descriptor without making it blocking, as f.Fd()
// would.
func control(f syscall.Conn, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	if err := rc.Control(func(fd uintptr) { fnErr = fn(int(fd)) }); err != nil {
		return err
	}
	return fnErr
}

// setPipeSize sets the capacity of the pipe f is an end of, and returns the
// capacity the kernel chose.
func setPipeSize(t *testing.T, f syscall.Conn, size int) int {
	t.Helper()
	var got int
	require.NoError(t, control(f, func(fd int) (err error) {
		got, err = unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, size)
		return err
	}))
	return got
}

// unread returns how many bytes wait in the pipe whose read end is r, or -1.
// It does not fail the test: it runs in require.Eventually's goroutine.
func unread(r syscall.Conn) int {
	n := -1
	_ = control(r, func(fd int) (err error) {
		n, err = unix.IoctlGetInt(fd, unix.TIOCINQ) // FIONREAD
		return err
	})
	return n
}

// chunks is a reader that returns one chunk per Read (less if p is
// shorter), as a pipe does when the writer writes each chunk on its own, and
// records how much room each Read was given.
type chunks struct {
	left  []string
	sizes []int // len(p) of each Read
}

func (c *chunks) Read(p []byte) (int, error) {
	c.sizes = append(c.sizes, len(p))
	if len(c.left) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.left[0])
	if c.left[0] = c.left[0][n:]; c.left[0] == "" {
		c.left = c.left[1:]
	}
	return n, nil
}

func TestPumpQuietStreamKeepsSmallBuffer(t *testing.T) {
	line := strings.Repeat("q", 99) + "\n"
	src := &chunks{}
	for range 1000 {
		src.left = append(src.left, line)
	}
	var dst recorder
	require.NoError(t, Pump(src, &dst, nil))
	require.Len(t, dst.lines(t), 1000)
	require.LessOrEqual(t, slices.Max(src.sizes), minBuffer, "short writes never grow the buffer")
}

func TestPumpBusyStreamGrowsToFullReads(t *testing.T) {
	line := strings.Repeat("b", 99) + "\n"
	in := strings.Repeat(line, 10_000) // 1 MB, read as fast as the buffer allows
	src := &chunks{left: []string{in}}
	var dst recorder
	require.NoError(t, Pump(src, &dst, nil))
	require.Equal(t, splitLines(in), dst.lines(t))
	first := slices.IndexFunc(src.sizes, func(n int) bool { return n > MaxLine/2 })
	require.GreaterOrEqual(t, first, 0, "reads reach full size: %v", src.sizes)
	require.LessOrEqual(t, first, 10, "the buffer doubles on each full read: %v", src.sizes)
	require.LessOrEqual(t, slices.Max(src.sizes), maxBuffer)
}

func TestPumpLongLineGrowsThenCuts(t *testing.T) {
	long := strings.Repeat("L", 200<<10) // 200 KiB without a newline
	want := []string{
		long[:MaxLine] + "\n", long[MaxLine:2*MaxLine] + "\n", long[2*MaxLine:3*MaxLine] + "\n",
		long[3*MaxLine:] + "\n", "end\n",
	}
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"chunks":   func(io.Reader) io.Reader { return &chunks{left: []string{long[:1000], long[1000:], "\nend"}} },
	}
	for name, wrap := range readers {
		t.Run(name, func(t *testing.T) {
			var dst recorder
			ring := NewRing(4 * MaxLine)
			require.NoError(t, Pump(wrap(strings.NewReader(long+"\nend")), &dst, ring))
			require.Equal(t, want, dst.lines(t))
			kept, _, _ := ring.Since(0)
			require.Equal(t, strings.Join(want, ""), string(kept))
		})
	}
}

// A busy stream's read of a MiB can hold many lines, long ones among them:
// each line over MaxLine is cut as if it had come in small reads.
func TestPumpCutsLongLinesInsideOneRead(t *testing.T) {
	long := strings.Repeat("L", 3*MaxLine+5)
	exact := strings.Repeat("M", MaxLine)
	in := "a\n" + long + "\nb\n" + exact + "\n" + strings.Repeat("s\n", 1000) + long[:MaxLine+1]
	var dst recorder
	ring := NewRing(8 * MaxLine)
	p := pump{dst: &dst, ring: ring, buf: make([]byte, maxBuffer)}
	p.take(copy(p.buf, in))
	p.finish()
	want := append([]string{"a\n", long[:MaxLine] + "\n", long[MaxLine:2*MaxLine] + "\n",
		long[2*MaxLine:3*MaxLine] + "\n", long[3*MaxLine:] + "\n", "b\n", exact + "\n"},
		splitLines(strings.Repeat("s\n", 1000))...)
	want = append(want, long[:MaxLine]+"\n", "L\n")
	require.Equal(t, want, dst.lines(t))
	kept, _, _ := ring.Since(0)
	require.Equal(t, strings.Join(want, ""), string(kept))
}
