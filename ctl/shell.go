package ctl

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/term"

	"github.com/taskmaster/taskmaster/internal/version"
)

// prompt is the interactive shell's prompt.
const prompt = "taskmaster> "

// shell reads command lines at a prompt, with line editing, history and tab
// completion, and runs each like a command line given to Main. Every
// command dials the daemon afresh, so a daemon that restarts between two
// lines costs nothing more than one "cannot connect" message. It returns 0
// on exit, quit or Ctrl-D.
func (r *runner) shell(opts options) int {
	r.inShell = true
	t := newTTY(r.env.Stdin)
	if err := t.raw(); err != nil {
		fmt.Fprintf(r.env.Stderr, "taskmasterctl: terminal: %v\n", err)
		return ExitFail
	}
	defer t.restore()
	tm := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{&ctrlCReader{r: r.env.Stdin}, r.env.Stdout}, prompt)
	tm.History = loadHistory(r.env.Getenv("HOME"))
	tm.AutoCompleteCallback = newCompleter(r, opts, tm).complete
	fmt.Fprintf(tm, "taskmasterctl %s, taskmasterd at %s. Tab completes; help lists the commands; exit or Ctrl-D leaves.\n",
		version.Version, withDefaultPort(opts.addr))
	for {
		t.fit(tm)
		line, err := tm.ReadLine()
		if err != nil && !errors.Is(err, term.ErrPasteIndicator) {
			io.WriteString(r.env.Stdout, "\r\n") // leave the prompt's line
			return shellEnd(err, r.env.Stderr)
		}
		if r.shellLine(line, opts, t) {
			return ExitOK
		}
	}
}

// shellEnd is the exit code of a shell whose input ended with err.
func shellEnd(err error, stderr io.Writer) int {
	if errors.Is(err, io.EOF) { // Ctrl-D
		return ExitOK
	}
	fmt.Fprintf(stderr, "taskmasterctl: terminal: %v\n", err)
	return ExitFail
}

// shellLine runs one line typed at the prompt and reports whether it asked
// to leave. The command runs with the terminal in its usual mode: Ctrl-C
// then interrupts it (a "tail -f", a "wait") rather than the shell.
func (r *runner) shellLine(line string, opts options, t *tty) (leave bool) {
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return false
	}
	if fields[0] == "exit" || fields[0] == "quit" {
		return true
	}
	t.restore()
	defer t.raw()
	lineOpts, rest, err := parseGlobals(fields, opts)
	switch {
	case err != nil:
		r.globalUsageError(err)
	case len(rest) > 0:
		r.command(lineOpts, rest)
	}
	return false
}
