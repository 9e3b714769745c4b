package control_test

import (
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/control"
	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/jobs"
	"github.com/taskmaster/taskmaster/jobs/attach"
)

// process begins a process on the fake supervisor's Point, with a terminal
// when term is not nil, and returns what the starter would keep: its
// record, its output tap and the end of its one stream.
func (r *rig) process(term *os.File) (*attach.Process, func(string), func()) {
	pr := r.sup.point.NewProcess(term)
	tap, done := pr.Stream()
	pr.Begin()
	return pr, func(s string) { tap.Raw([]byte(s)) }, done
}

// terminal returns the master side of a new terminal, non-blocking as the
// starter makes it, and its other side in raw mode.
func terminal(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	master, tty, err := pty.Open()
	require.NoError(t, err)
	t.Cleanup(func() { master.Close(); tty.Close() })
	fd, err := unix.FcntlInt(master.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	require.NoError(t, err)
	require.NoError(t, unix.SetNonblock(fd, true))
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	require.NoError(t, err)
	tio.Lflag &^= unix.ICANON | unix.ECHO | unix.ISIG
	require.NoError(t, unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, tio))
	return os.NewFile(uintptr(fd), "ptmx"), tty
}

func winsize(t *testing.T, tty *os.File) [2]uint16 {
	t.Helper()
	ws, err := unix.IoctlGetWinsize(int(tty.Fd()), unix.TIOCGWINSZ)
	require.NoError(t, err)
	return [2]uint16{ws.Row, ws.Col}
}

func outputReply(data string) string { return `{"response":"output","data":"` + b64(data) + `"};;` }

// An attach session, byte by byte: the reply opens the stream; output
// comes as it is read; input reaches the terminal; resize sets its size
// (and the attach its first one); detach ends the session, and the
// connection, while the process goes on.
func TestAttachSession(t *testing.T) {
	r := newRig(t)
	term, tty := terminal(t)
	_, raw, _ := r.process(term)

	require.Equal(t, `{"response":"attached","job":"`+b64("console:0")+`","data":"`+b64(`{"instance":"console:0","tty":true}`)+`"};;`,
		r.exchange(request("attach", "console:0", `{"rows":30,"cols":100}`)))
	require.Equal(t, [2]uint16{30, 100}, winsize(t, tty))
	require.Equal(t, []string{"attach console:0"}, r.sup.Log())

	raw("/ # ")
	require.Equal(t, outputReply("/ # "), readReply(t, r.conn))

	_, err := r.conn.Write([]byte(request("input", "", "echo hi\r")))
	require.NoError(t, err)
	got := make([]byte, 8)
	_, err = io.ReadFull(tty, got)
	require.NoError(t, err)
	require.Equal(t, "echo hi\n", string(got), "as typed: the terminal turns Enter's \\r into \\n")

	_, err = r.conn.Write([]byte(request("resize", "", `{"rows":50,"cols":132}`)))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return winsize(t, tty) == [2]uint16{50, 132} }, 10*time.Second, time.Millisecond)

	require.Equal(t, failReply(`resize: bad terminal size 0x10: rows and columns must be at least 1`),
		r.exchange(request("resize", "", `{"rows":0,"cols":10}`)))
	require.Equal(t, failReply(`resize: data must be JSON like {"rows":24,"cols":80}: json: unknown field "width"`),
		r.exchange(request("resize", "", `{"width":3}`)))
	require.Equal(t, invalidReply(`"status" is not a message of an attach session (input, resize or detach)`),
		r.exchange(request("status", "", "")))
	require.Contains(t, r.exchange(`{"command":"input",;;`), `{"response":"invalid"`)

	require.Equal(t, `{"response":"detached"};;`, r.exchange(request("detach", "", "")))
	requireEOF(t, r.conn)
	require.Eventually(t, func() bool { return r.sup.point.Attached() == 0 }, 10*time.Second, time.Millisecond)
	// The process goes on: one can attach again.
	again := r.dial()
	_, err = again.Write([]byte(request("attach", "console:0", "")))
	require.NoError(t, err)
	require.Contains(t, readReply(t, again), `"response":"attached"`)
}

// When the process exits, the session ends with its exit, after its last
// output, and the connection closes.
func TestAttachEndsWithTheExit(t *testing.T) {
	r := newRig(t)
	pr, raw, done := r.process(nil)
	require.Contains(t, r.exchange(request("attach", "web:0", "")), `"data":"`+b64(`{"instance":"web:0","tty":false}`)+`"`)
	raw("bye\n")
	pr.Exited(attach.Exit{Code: 143, Signal: "SIGTERM"})
	done()
	require.Equal(t, outputReply("bye\n"), readReply(t, r.conn))
	require.Equal(t, `{"response":"exit","data":"`+b64(`{"exit_code":143,"signal":"SIGTERM"}`)+`"};;`, readReply(t, r.conn))
	requireEOF(t, r.conn)
}

// A process without a terminal is attached read-only: its output comes,
// input and resize are refused with the reason.
func TestAttachReadOnly(t *testing.T) {
	r := newRig(t)
	_, raw, _ := r.process(nil)
	require.Contains(t, r.exchange(request("attach", "web:0", `{"rows":30,"cols":100}`)), `"response":"attached"`)
	why := `the process has no terminal (its job has no "tty": true): input is not possible`
	require.Equal(t, failReply("input: "+why), r.exchange(request("input", "", "x")))
	require.Equal(t, failReply("resize: "+why), r.exchange(request("resize", "", `{"rows":1,"cols":1}`)))
	raw("line\n")
	require.Equal(t, outputReply("line\n"), readReply(t, r.conn))
}

func TestAttachRefused(t *testing.T) {
	r := newRig(t)
	require.Equal(t, failReply("no process to attach to"), r.exchange(request("attach", "web:0", "")))
	r.process(nil)
	r.sup.fail("attach", "nope", jobs.ErrNoSuchJob)
	require.Equal(t, failReply(jobs.ErrNoSuchJob.Error()), r.exchange(request("attach", "nope", "")))
	require.Equal(t, failReply(`attach: data must be JSON like {"rows":24,"cols":80}: json: unknown field "x"`),
		r.exchange(request("attach", "web:0", `{"x":1}`)))
	require.Equal(t, invalidReply("attach needs a job"), r.exchange(request("attach", "", "")))
	require.Zero(t, r.sup.point.Attached())
}

// A client that stops reading its output is dropped once it is far enough
// behind: the process's output never waits for it (the tap below would
// block otherwise), and once it reads again it learns why it was dropped.
func TestAttachClientThatDoesNotRead(t *testing.T) {
	r := newRig(t)
	_, raw, _ := r.process(nil)
	require.Contains(t, r.exchange(request("attach", "web:0", "")), `"response":"attached"`)
	chunk := strings.Repeat("x", 64<<10)
	// More than the socket buffers and the session's buffer hold.
	for i := 0; i < 1024 && r.sup.point.Attached() > 0; i++ {
		raw(chunk)
	}
	require.Zero(t, r.sup.point.Attached(), "never dropped")
	require.NoError(t, r.conn.SetDeadline(time.Now().Add(30*time.Second)))
	fr := ctlproto.NewFrameReader(r.conn, 0)
	for {
		frame, err := fr.Next()
		require.NoError(t, err)
		resp, err := ctlproto.DecodeResponse(frame)
		require.NoError(t, err)
		if resp.Kind == ctlproto.KindOutput {
			continue
		}
		require.Equal(t, ctlproto.KindDetached, resp.Kind)
		require.Contains(t, resp.Error, "dropped: the client fell more than 262144 bytes behind the output")
		break
	}
	requireEOF(t, r.conn)
}

func TestSignal(t *testing.T) {
	r := newRig(t)
	require.Equal(t, success, r.exchange(request("signal", "web", "HUP")))
	require.Equal(t, success, r.exchange(request("signal", "web:1", "sigusr2")))
	require.Equal(t, success, r.exchange(request("signal", "all", "RTMIN+3")))
	require.Equal(t, success, r.exchange(request("signal", "web", "10")))
	r.sup.fail("signal", "idle", jobs.ErrRedundant)
	require.Equal(t, redundant, r.exchange(request("signal", "idle", "HUP")))
	require.Equal(t, failReply(`signal: unknown signal "FOO" (expected a name like "TERM" or "SIGUSR1", "RTMIN+3", or a number 1-31/34-64)`),
		r.exchange(request("signal", "web", "FOO")))
	require.Equal(t, invalidReply("signal needs data"), r.exchange(request("signal", "web", "")))
	require.Equal(t, []string{"signal web SIGHUP", "signal web:1 SIGUSR2", "signal all SIGRTMIN+3", "signal web SIGUSR1", "signal idle SIGHUP"}, r.sup.Log())
}

// shutdown calls the hook and answers; without one it is refused.
func TestShutdown(t *testing.T) {
	r := newRig(t)
	require.Equal(t, failReply("shutdown is not available here"), r.exchange(request("shutdown", "", "")))

	asked := make(chan struct{}, 1)
	h := control.New(newFakeSup(), t.TempDir()).OnShutdown(func() { asked <- struct{}{} })
	srv := &ctlproto.Server{Handler: h}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = c.Write([]byte(request("shutdown", "", "")))
	require.NoError(t, err)
	require.Equal(t, success, readReply(t, c))
	<-asked
}

// requireEOF checks that the server closed c after what was read.
func requireEOF(t *testing.T, c net.Conn) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	n, err := c.Read(make([]byte, 1))
	require.Zero(t, n)
	require.Error(t, err)
	require.NotErrorIs(t, err, os.ErrDeadlineExceeded, "still open")
}
