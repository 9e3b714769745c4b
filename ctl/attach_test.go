package ctl

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/ctlproto"
)

func TestParseDetachKeys(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []byte
		err  string
	}{
		{"ctrl-p,ctrl-q", []byte{16, 17}, ""},
		{"CTRL-A,d", []byte{1, 'd'}, ""},
		{"ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", []byte{0, 27, 28, 29, 30, 31}, ""},
		{"x", []byte{'x'}, ""},
		{"ctrl-1", nil, `-detach-keys "ctrl-1": "ctrl-1" is not a key`},
		{"", nil, `"" is not a key`},
		{"ctrl-p,,ctrl-q", nil, `"" is not a key`},
		{"alt-x", nil, `"alt-x" is not a key`},
	} {
		got, err := parseDetachKeys(tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

// The detach keys are held back while they may be the sequence, and
// passed on when they turn out not to be, as docker does.
func TestDetacher(t *testing.T) {
	for _, tc := range []struct {
		name   string
		feeds  []string
		out    string
		detach bool
	}{
		{"plain keys", []string{"ls\r"}, "ls\r", false},
		{"the sequence", []string{"ab\x10\x11cd"}, "ab", true},
		{"split across reads", []string{"a\x10", "\x11"}, "a", true},
		{"a prefix then another key", []string{"\x10x"}, "\x10x", false},
		{"a prefix held until the next read", []string{"\x10", "y"}, "\x10y", false},
		{"a prefix twice", []string{"\x10\x10\x11"}, "\x10", true},
		{"the second key alone", []string{"\x11"}, "\x11", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := detacher{seq: []byte{16, 17}}
			var out []byte
			detach := false
			for _, f := range tc.feeds {
				o, done := d.feed([]byte(f))
				out = append(out, o...)
				if done {
					detach = true
					break
				}
			}
			require.Equal(t, tc.out, string(out))
			require.Equal(t, tc.detach, detach)
		})
	}
}

// streamDaemon is a daemon whose attach opens a stream that shows every
// input back as "got:<input>", ends with exit 7 when the input holds
// "q!", and records the sizes it is sent.
type streamDaemon struct {
	*fakeDaemon
	tty bool

	mu      sync.Mutex
	sizes   []string // the attach's data, then each resize's
	inputs  []string
	detach  bool
	streams chan *ctlproto.Stream // each stream as it opens
}

func startStreamDaemon(t *testing.T, tty bool) *streamDaemon {
	sd := &streamDaemon{tty: tty, streams: make(chan *ctlproto.Stream, 4)}
	sd.fakeDaemon = startDaemon(t, func(r *ctlproto.Request) *ctlproto.Response {
		if r.Command != ctlproto.CmdAttach {
			return ctlproto.Success()
		}
		sd.mu.Lock()
		sd.sizes = append(sd.sizes, string(r.Data))
		sd.mu.Unlock()
		data, _ := json.Marshal(attachReply{Instance: r.Job + ":0", TTY: sd.tty})
		return &ctlproto.Response{Kind: ctlproto.KindAttached, Job: r.Job + ":0", Data: data, Stream: sd.serve}
	})
	return sd
}

func (sd *streamDaemon) serve(ctx context.Context, st *ctlproto.Stream) {
	sd.streams <- st
	for {
		req, err := st.Recv()
		if err != nil {
			return
		}
		sd.mu.Lock()
		switch req.Command {
		case ctlproto.CmdInput:
			sd.inputs = append(sd.inputs, string(req.Data))
		case ctlproto.CmdResize:
			sd.sizes = append(sd.sizes, string(req.Data))
		case ctlproto.CmdDetach:
			sd.detach = true
		}
		sd.mu.Unlock()
		switch {
		case req.Command == ctlproto.CmdDetach:
			_ = st.Send(&ctlproto.Response{Kind: ctlproto.KindDetached})
			return
		case req.Command == ctlproto.CmdInput && strings.Contains(string(req.Data), "q!"):
			_ = st.Send(&ctlproto.Response{Kind: ctlproto.KindExit, Data: []byte(`{"exit_code":7}`)})
			return
		case req.Command == ctlproto.CmdInput:
			_ = st.Send(&ctlproto.Response{Kind: ctlproto.KindOutput, Data: append([]byte("got:"), req.Data...)})
		}
	}
}

func (sd *streamDaemon) recorded() (sizes, inputs []string, detach bool) {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	return append([]string(nil), sd.sizes...), append([]string(nil), sd.inputs...), sd.detach
}

// attachSession is Main running a command on a pty, as at a terminal.
type attachSession struct {
	t      *testing.T
	ptmx   *os.File
	tty    *os.File
	screen *screen
	code   chan int
	// before is the terminal's mode before Main started, which attach
	// must restore: read after, it could be attach's raw mode already.
	before *unix.Termios
}

func startAtTerminal(t *testing.T, addr string, args ...string) *attachSession {
	t.Helper()
	ptmx, tty, err := pty.Open()
	require.NoError(t, err)
	require.NoError(t, pty.Setsize(ptmx, &pty.Winsize{Rows: 50, Cols: 200}))
	a := &attachSession{t: t, ptmx: ptmx, tty: tty, screen: &screen{}, code: make(chan int, 1)}
	a.before = a.termios()
	copied := make(chan struct{})
	go func() {
		io.Copy(a.screen, ptmx)
		close(copied)
	}()
	vars := map[string]string{"TASKMASTER_ADDR": addr, "NO_COLOR": "1"}
	env := Env{Stdin: tty, Stdout: tty, Stderr: tty, Getenv: func(k string) string { return vars[k] },
		Now: func() time.Time { return testNow }}
	go func() { a.code <- Main(args, env) }()
	t.Cleanup(func() {
		tty.Close()
		ptmx.Close()
		<-copied
	})
	return a
}

func (a *attachSession) typeKeys(keys string) {
	_, err := a.ptmx.Write([]byte(keys))
	require.NoError(a.t, err)
}

func (a *attachSession) waitFor(s string) {
	a.t.Helper()
	require.Eventually(a.t, func() bool { return strings.Contains(a.screen.String(), s) },
		10*time.Second, 5*time.Millisecond, "waiting for %q; screen so far:\n%q", s, a.screen)
}

func (a *attachSession) exitCode() int {
	a.t.Helper()
	select {
	case code := <-a.code:
		return code
	case <-time.After(10 * time.Second):
		a.t.Fatalf("taskmasterctl did not end; screen:\n%q", a.screen)
		return -1
	}
}

// termios returns the terminal's mode, as attach leaves it.
func (a *attachSession) termios() *unix.Termios {
	a.t.Helper()
	fd, ok := fdOf(a.tty)
	require.True(a.t, ok)
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	require.NoError(a.t, err)
	return tio
}

// awaitRaw waits until attach has put the terminal in raw mode.
func (a *attachSession) awaitRaw() {
	a.t.Helper()
	require.Eventually(a.t, func() bool { return raw(a.termios()) }, 10*time.Second, time.Millisecond)
}

// raw reports whether the terminal is in raw mode.
func raw(tio *unix.Termios) bool { return tio.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) == 0 }

// The terminal is raw while attached: keys go to the process as typed,
// output comes back; the window size goes with the attach and with every
// SIGWINCH; when the process exits, attach ends with its exit code and the
// terminal is as it was.
func TestAttachTerminal(t *testing.T) {
	sd := startStreamDaemon(t, true)
	a := startAtTerminal(t, sd.addr, "attach", "console")
	before := a.before
	require.False(t, raw(before))
	<-sd.streams
	a.awaitRaw()

	a.typeKeys("hi\x03") // Ctrl-C too is a key for the process
	a.waitFor("got:hi\x03")

	require.NoError(t, pty.Setsize(a.ptmx, &pty.Winsize{Rows: 33, Cols: 99}))
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGWINCH))
	require.Eventually(t, func() bool {
		sizes, _, _ := sd.recorded()
		return len(sizes) == 2
	}, 10*time.Second, time.Millisecond)

	a.typeKeys("q!")
	require.Equal(t, 7, a.exitCode())
	sizes, inputs, _ := sd.recorded()
	require.Equal(t, []string{`{"rows":50,"cols":200}`, `{"rows":33,"cols":99}`}, sizes)
	require.Equal(t, "hi\x03q!", strings.Join(inputs, ""))
	require.Equal(t, before, a.termios(), "the terminal is restored")
}

// The detach keys end attach with 0 and leave the process be; they are
// configurable.
func TestAttachDetach(t *testing.T) {
	for _, tc := range []struct {
		args []string
		keys string
	}{
		{[]string{"attach", "console"}, "ab\x10\x11"},
		{[]string{"fg", "console"}, "ab\x10\x11"},
		{[]string{"attach", "-detach-keys", "ctrl-a,d", "console"}, "ab\x01d"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			sd := startStreamDaemon(t, true)
			a := startAtTerminal(t, sd.addr, tc.args...)
			before := a.before
			<-sd.streams
			a.awaitRaw() // keys typed before would be the terminal's (Ctrl-Q: flow control)
			a.typeKeys(tc.keys)
			require.Equal(t, 0, a.exitCode())
			a.waitFor("taskmasterctl: detached from console:0, which goes on running")
			require.Equal(t, before, a.termios())
			require.Eventually(t, func() bool { _, _, detach := sd.recorded(); return detach }, 10*time.Second, time.Millisecond)
			_, inputs, _ := sd.recorded()
			require.Equal(t, "ab", strings.Join(inputs, ""), "the detach keys are not passed on")
		})
	}
}

// A process without a terminal is attached read-only: output only, no
// input sent, Ctrl-C ends (130) and restores the terminal.
func TestAttachReadOnly(t *testing.T) {
	sd := startStreamDaemon(t, false)
	a := startAtTerminal(t, sd.addr, "attach", "web")
	before := a.before
	st := <-sd.streams
	a.waitFor(`taskmasterctl: web:0 has no terminal (its job has no "tty": true): its output follows; input is not possible (ctrl-p,ctrl-q or Ctrl-C ends)`)
	require.NoError(t, st.Send(&ctlproto.Response{Kind: ctlproto.KindOutput, Data: []byte("line one\nline two\n")}))
	a.waitFor("line one\r\nline two\r\n") // output processing stays on
	a.awaitRaw()
	a.typeKeys("typed\x03")
	require.Equal(t, ExitInterrupted, a.exitCode())
	a.waitFor("taskmasterctl: interrupted")
	require.Equal(t, before, a.termios())
	_, inputs, _ := sd.recorded()
	require.Empty(t, inputs)
}

// A lost connection ends attach with 3, the terminal restored.
func TestAttachConnectionLost(t *testing.T) {
	sd := startStreamDaemon(t, true)
	a := startAtTerminal(t, sd.addr, "attach", "console")
	before := a.before
	st := <-sd.streams
	require.NoError(t, st.Close())
	require.Equal(t, ExitUnreachable, a.exitCode())
	a.waitFor("taskmasterctl: lost connection to taskmasterd at " + sd.addr)
	require.Equal(t, before, a.termios())
}

// A session taskmasterd ends (it fell behind, taskmasterd shuts down) ends
// attach with 1 and the reason.
func TestAttachEndedByTheDaemon(t *testing.T) {
	sd := startStreamDaemon(t, true)
	a := startAtTerminal(t, sd.addr, "attach", "console")
	st := <-sd.streams
	require.NoError(t, st.Send(&ctlproto.Response{Kind: ctlproto.KindDetached, Error: "taskmasterd is shutting down"}))
	require.Equal(t, ExitFail, a.exitCode())
	a.waitFor("taskmasterctl: console:0: taskmasterd ended the session: taskmasterd is shutting down")
}

// Without a terminal, attach forwards stdin as it is and shows output.
func TestAttachWithoutTerminal(t *testing.T) {
	sd := startStreamDaemon(t, true)
	env, out, errw := testEnv(map[string]string{"TASKMASTER_ADDR": sd.addr})
	in, typed := io.Pipe()
	defer typed.Close() // ends the reader attach leaves behind on a plain io.Reader
	env.Stdin = in
	code := make(chan int, 1)
	go func() { code <- Main([]string{"attach", "console"}, env) }()
	_, err := typed.Write([]byte("echo\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, inputs, _ := sd.recorded(); return len(inputs) == 1 }, 10*time.Second, time.Millisecond)
	_, err = typed.Write([]byte("q!\n"))
	require.NoError(t, err)
	require.Equal(t, 7, <-code, errw.String())
	require.Equal(t, "got:echo\n", out.String())
	sizes, inputs, _ := sd.recorded()
	require.Equal(t, []string{""}, sizes, "no window, no size")
	require.Equal(t, "echo\nq!\n", strings.Join(inputs, ""))
}

// Refusals: an unknown job; a daemon older than the attach extension.
func TestAttachRefused(t *testing.T) {
	d := startDaemon(t, byJob(map[string]*ctlproto.Response{"nope": ctlproto.Failf("no such job \"nope\"")}))
	got := d.run("attach", "nope")
	require.Equal(t, ran{"", "taskmasterctl: nope: no such job \"nope\"\n", ExitFail}, got)

	old := startDaemon(t, func(*ctlproto.Request) *ctlproto.Response { return ctlproto.Invalid(`unknown command "attach"`) })
	got = old.run("attach", "web")
	require.Equal(t, ExitFail, got.code)
	require.Equal(t, "taskmasterctl: web: invalid request: unknown command \"attach\" (this taskmasterd is older than taskmasterctl: it does not have attach yet)\n", got.stderr)

	got = d.run("attach", "-detach-keys", "meta-x", "web")
	require.Equal(t, ExitUsage, got.code)
	require.Contains(t, got.stderr, `"meta-x" is not a key`)
	require.Equal(t, ExitUnreachable, runAt(closedAddr(t), "attach", "web").code)
}
