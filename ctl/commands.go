package ctl

import (
	"flag"
	"strings"
)

// runFunc carries out a command with its positional arguments and returns
// the exit code.
type runFunc func(s *session, args []string) int

// command is one entry of the command table, which drives the parser, the
// usage text, "help" and tab completion alike.
type command struct {
	name string
	args string // synopsis of the arguments, for usage
	help string // one line
	min  int    // positional arguments required
	max  int    // positional arguments allowed; -1: no limit
	// complete says what tab completion offers at each argument position;
	// the last kind repeats for a command without a limit.
	complete []argKind
	// setup defines the command's own flags on fs and returns the function
	// that runs it, which reads them.
	setup func(fs *flag.FlagSet) runFunc
}

// argKind is what an argument position holds, for tab completion.
type argKind uint8

const (
	argNone     argKind = iota
	argTarget           // all, NAME or NAME:N
	argJob              // NAME: a job file
	argInstance         // NAME or NAME:N
	argCommand          // a command name
	argState            // what wait waits for: a process state, or ready
)

// plain is setup for a command without flags of its own.
func plain(run runFunc) func(*flag.FlagSet) runFunc {
	return func(*flag.FlagSet) runFunc { return run }
}

// commands is the command table, in the order usage lists it. It is built
// in init because help reads it.
var commands []command

func init() {
	commands = []command{
		{name: "status", args: "[JOB]", help: "show jobs and their processes (JOB, NAME:N or all)",
			max: 1, complete: []argKind{argTarget}, setup: plain(runStatus)},
		{name: "start", args: "JOB...", help: "start jobs (JOB, NAME:N or all)",
			min: 1, max: -1, complete: []argKind{argTarget}, setup: plain(runSimple(startWords))},
		{name: "stop", args: "JOB...", help: "stop jobs and wait until they have stopped",
			min: 1, max: -1, complete: []argKind{argTarget}, setup: plain(runSimple(stopWords))},
		{name: "restart", args: "[JOB...]", help: "stop then start jobs; alone: reload every job file",
			max: -1, complete: []argKind{argTarget}, setup: plain(runRestart)},
		{name: "kill", args: "JOB...", help: "kill jobs at once (SIGKILL)",
			min: 1, max: -1, complete: []argKind{argTarget}, setup: plain(runSimple(killWords))},
		{name: "repair", args: "JOB...", help: "reset jobs to their default state, non-destructively",
			min: 1, max: -1, complete: []argKind{argTarget}, setup: plain(runSimple(repairWords))},
		{name: "wait", args: "JOB [STATE|ready] [--timeout D]", help: "wait until every process of JOB is in STATE (default RUNNING), or ready (past its ready check, and healthy)",
			min: 1, max: 2, complete: []argKind{argTarget, argState}, setup: setupWait},
		{name: "tail", args: "[-f] JOB[:N]", help: "print the recent output of a process; -f: keep following it",
			min: 1, max: 1, complete: []argKind{argInstance}, setup: setupTail},
		{name: "attach", args: "[-detach-keys K] JOB[:N]", help: "become the terminal of a process (Ctrl-P Ctrl-Q detaches); read-only for a job without tty",
			min: 1, max: 1, complete: []argKind{argInstance}, setup: setupAttach},
		{name: "fg", args: "[-detach-keys K] JOB[:N]", help: "attach, as supervisorctl's fg",
			min: 1, max: 1, complete: []argKind{argInstance}, setup: setupAttach},
		{name: "signal", args: "SIG JOB...", help: "send a signal (HUP, USR1, 10, ...) to the process groups of jobs",
			min: 2, max: -1, complete: []argKind{argNone, argTarget}, setup: plain(runSignal)},
		{name: "list", help: "list job names, one per line", setup: plain(runList)},
		{name: "agents", help: "list a fleet manager's agents: address, state, round-trip time, jobs", setup: plain(runAgents)},
		{name: "health", help: "exit 0 if every autostart job is healthy (ready, no failed health check) and every job file in use, else 1 (HEALTHCHECK)", setup: plain(runHealth)},
		{name: "pull", args: "JOB [FILE]", help: "print a job file, or write it to FILE",
			min: 1, max: 2, complete: []argKind{argJob, argNone}, setup: plain(runPull)},
		{name: "push", args: "FILE [JOB]", help: "upload a job file (JOB: NAME of NAME.tm.json by default; FILE - is stdin)",
			min: 1, max: 2, complete: []argKind{argNone, argJob}, setup: plain(runPush)},
		{name: "delete", args: "JOB", help: "stop a job and delete its job file",
			min: 1, max: 1, complete: []argKind{argJob}, setup: plain(runSimple(deleteWords))},
		{name: "reload", args: "JOB", help: "reload one job file",
			min: 1, max: 1, complete: []argKind{argJob}, setup: plain(runSimple(reloadWords))},
		{name: "shutdown", args: "[-y]", help: "stop taskmasterd as SIGTERM does, and wait until it has (asks first at a terminal)",
			setup: setupShutdown},
		{name: "version", help: "print the version of taskmasterctl", setup: plain(runVersion)},
		{name: "help", args: "[COMMAND]", help: "show this help, or the help of one command",
			max: 1, complete: []argKind{argCommand}, setup: plain(runHelp)},
	}
}

// lookup finds a command by name.
func lookup(name string) (*command, bool) {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i], true
		}
	}
	return nil, false
}

// commandNames lists the command names, plus the shell's own words.
func commandNames(shell bool) []string {
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	if shell {
		names = append(names, "exit", "quit")
	}
	return names
}

// synopsis is the command's usage line.
func (c *command) synopsis() string {
	return strings.TrimSpace("taskmasterctl " + c.name + " " + c.args)
}

// kindAt is what the argument at index i holds.
func (c *command) kindAt(i int) argKind {
	switch {
	case len(c.complete) == 0, c.max >= 0 && i >= c.max:
		return argNone
	case i >= len(c.complete):
		return c.complete[len(c.complete)-1]
	}
	return c.complete[i]
}
