package ctl

import (
	"errors"
	"flag"
	"io"
	"net"
	"time"
)

// options are the global flags: where the daemon is and how to talk to it.
type options struct {
	addr    string
	token   string
	json    bool
	timeout time.Duration
}

// DefaultTimeout bounds connecting and each reply unless -timeout says
// otherwise. It is generous because stop waits for the processes to stop
// (up to their stoptime) before the daemon replies.
const DefaultTimeout = 2 * time.Minute

// errNoCommand is the usage error of a command line without a command.
var errNoCommand = errors.New("no command given")

func defaultOptions(getenv func(string) string) options {
	o := options{addr: getenv("TASKMASTER_ADDR"), token: getenv("TASKMASTER_TOKEN"), timeout: DefaultTimeout}
	if o.addr == "" {
		o.addr = addrFromListen(getenv("TASKMASTER_LISTEN"))
	}
	return o
}

// addrFromListen returns where to reach a taskmasterd that listens on
// listen (its TASKMASTER_LISTEN, which docker exec and HEALTHCHECK commands
// inherit in a container), or DefaultAddr. A wildcard host is reached
// through loopback.
func addrFromListen(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" {
		return DefaultAddr
	}
	if host == "" || host == "0.0.0.0" {
		host = "127.0.0.1"
	} else if host == "::" {
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// register defines the global flags on fs, except those the command
// already defined: a command's own flag shadows a global one of the same
// name ("wait web --timeout 30s" is the wait's timeout, not the request's).
func (o *options) register(fs *flag.FlagSet) {
	define := func(name string, fn func()) {
		if fs.Lookup(name) == nil {
			fn()
		}
	}
	define("addr", func() { fs.StringVar(&o.addr, "addr", o.addr, "taskmasterd address HOST:PORT") })
	define("token", func() { fs.StringVar(&o.token, "token", o.token, "token sent with every request") })
	define("json", func() { fs.BoolVar(&o.json, "json", o.json, "print JSON for scripts") })
	define("timeout", func() {
		fs.DurationVar(&o.timeout, "timeout", o.timeout, "bound on connecting and on each reply (0: none)")
	})
}

// newFlagSet returns a flag set that reports errors to its caller instead
// of printing them or exiting.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseGlobals parses the global flags in front of the command, starting
// from defaults, and returns the command and its arguments.
func parseGlobals(args []string, defaults options) (options, []string, error) {
	opts := defaults
	fs := newFlagSet("taskmasterctl")
	opts.register(fs)
	if err := fs.Parse(args); err != nil {
		return opts, nil, err
	}
	return opts, fs.Args(), nil
}

// parseInterleaved parses flags wherever they are among the positional
// arguments ("wait web --state RUNNING" as well as "wait --state RUNNING
// web"), which the flag package alone stops at the first positional one.
// Everything after "--" is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
