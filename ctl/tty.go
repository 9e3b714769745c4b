package ctl

import (
	"bytes"
	"io"
	"syscall"

	"golang.org/x/term"
)

// fdOf returns the file descriptor behind a stream. It goes through
// SyscallConn because os.File.Fd would switch the file to blocking mode.
func fdOf(stream any) (int, bool) {
	sc, ok := stream.(syscall.Conn)
	if !ok {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	fd := -1
	if err := raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return 0, false
	}
	return fd, fd >= 0
}

// isTerminal is Env.IsTerminal unless a test says otherwise.
func isTerminal(stream any) bool {
	fd, ok := fdOf(stream)
	return ok && term.IsTerminal(fd)
}

// tty switches the shell's terminal between raw mode, for term.Terminal
// to read keys one by one at the prompt, and its usual mode, in which
// commands run so that Ctrl-C interrupts them and output lines end as usual.
// A stream that is not a real terminal is left alone.
type tty struct {
	fd    int
	ok    bool
	saved *term.State // the usual mode, while raw
}

func newTTY(stdin any) *tty {
	fd, ok := fdOf(stdin)
	return &tty{fd: fd, ok: ok && term.IsTerminal(fd)}
}

func (t *tty) raw() error {
	if !t.ok || t.saved != nil {
		return nil
	}
	st, err := term.MakeRaw(t.fd)
	if err != nil {
		return err
	}
	t.saved = st
	return nil
}

func (t *tty) restore() {
	if t.saved != nil {
		term.Restore(t.fd, t.saved)
		t.saved = nil
	}
}

// fit tells tm the terminal's width, for wrapping long lines. Before every
// prompt rather than on SIGWINCH: cheap, and no signal handler to undo.
func (t *tty) fit(tm *term.Terminal) {
	if !t.ok {
		return
	}
	if w, h, err := term.GetSize(t.fd); err == nil && w > 0 && h > 0 {
		tm.SetSize(w, h)
	}
}

// ctrlCReader turns Ctrl-C at the prompt into Ctrl-E Ctrl-U (end of line,
// erase it). term.Terminal ends ReadLine with io.EOF on Ctrl-C, but in a
// shell Ctrl-C abandons the line; Ctrl-D and exit are the ways out.
type ctrlCReader struct {
	r       io.Reader
	pending []byte
	err     error // returned once pending is drained
}

func (c *ctrlCReader) Read(p []byte) (int, error) {
	if len(c.pending) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		n, err := c.r.Read(p)
		if bytes.IndexByte(p[:n], 3) < 0 {
			return n, err
		}
		c.pending, c.err = bytes.ReplaceAll(p[:n], []byte{3}, []byte{5, 21}), err
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}
