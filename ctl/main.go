// Package ctl is taskmasterctl, the command-line client of taskmasterd: its
// command table, output formats, interactive shell and tab completion.
// cmd/taskmasterctl only wires it to the process (arguments, standard
// streams, signals), so that everything here runs in tests against a real
// ctlproto.Server.
//
// ctl speaks to the daemon through ctlproto only; it decodes the status JSON
// into its own types, so the client never links the supervisor.
package ctl

import (
	"context"
	"io"
	"time"
)

// Exit codes of Main. When one command line has several targets, the
// highest code wins.
const (
	ExitOK          = 0   // every request succeeded
	ExitFail        = 1   // the daemon answered fail, invalid or redundant, or a local step failed
	ExitUsage       = 2   // bad command line: unknown command, missing or extra argument, bad flag
	ExitUnreachable = 3   // taskmasterd could not be reached, or the connection broke
	ExitInterrupted = 130 // Ctrl-C ended the command (128 + SIGINT, as shells report it)
)

// DefaultAddr is the daemon's address unless TASKMASTER_ADDR or -addr says
// otherwise.
const DefaultAddr = "127.0.0.1:7777"

// Env is the world Main runs in. Tests give it buffers, a pty and a fixed
// clock; cmd/taskmasterctl gives it the process's own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads TASKMASTER_ADDR, TASKMASTER_TOKEN, NO_COLOR, TERM and
	// HOME. Nil reads nothing.
	Getenv func(key string) string
	// IsTerminal reports whether one of the streams above is a terminal.
	// Nil means: a file open on a terminal.
	IsTerminal func(stream any) bool
	// Now is the clock for uptimes and the completion cache. Nil is
	// time.Now.
	Now func() time.Time
	// Interrupt returns a context that ends on Ctrl-C (SIGINT) or SIGTERM,
	// like signal.NotifyContext. Each command runs under one, so that Ctrl-C
	// ends a "tail -f" or a "wait" without leaving the shell. Nil: commands
	// cannot be interrupted (the default signal disposition applies).
	Interrupt func(parent context.Context) (context.Context, context.CancelFunc)
}

// withDefaults fills in every nil function, so that the rest of the package
// never checks.
func (e Env) withDefaults() Env {
	if e.Stdin == nil {
		e.Stdin = eofReader{}
	}
	if e.Stdout == nil {
		e.Stdout = io.Discard
	}
	if e.Stderr == nil {
		e.Stderr = io.Discard
	}
	if e.Getenv == nil {
		e.Getenv = func(string) string { return "" }
	}
	if e.IsTerminal == nil {
		e.IsTerminal = isTerminal
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Interrupt == nil {
		e.Interrupt = context.WithCancel
	}
	return e
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// Main runs taskmasterctl with args (without the program name) and returns
// its exit code. With no command it opens the interactive shell when stdin
// is a terminal, and is a usage error otherwise.
func Main(args []string, env Env) int {
	r := &runner{env: env.withDefaults()}
	r.defaults = defaultOptions(r.env.Getenv)
	opts, rest, err := parseGlobals(args, r.defaults)
	if err != nil {
		return r.globalUsageError(err)
	}
	if len(rest) > 0 {
		return r.command(opts, rest)
	}
	if !r.env.IsTerminal(r.env.Stdin) {
		return r.globalUsageError(errNoCommand)
	}
	return r.shell(opts)
}
