package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/taskmaster/taskmaster/internal/version"
)

// runner runs command lines, from the process's arguments or typed into the
// shell, with the same parser and the same output.
type runner struct {
	env      Env     // every function set: see withDefaults
	defaults options // from the environment
	inShell  bool    // lines come from the interactive shell
}

// command runs one command line whose global flags are already parsed into
// opts: rest is the command name and its arguments.
func (r *runner) command(opts options, rest []string) int {
	cmd, ok := lookup(rest[0])
	if !ok {
		return r.unknownCommand(rest[0])
	}
	fs := newFlagSet(cmd.name)
	run := cmd.setup(fs) // the command's flags first: they shadow global ones
	opts.register(fs)
	args, err := parseInterleaved(fs, rest[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(r.env.Stdout, "usage: %s\n  %s\n", cmd.synopsis(), cmd.help)
		return ExitOK
	case err != nil:
		return r.commandUsageError(cmd, err)
	case len(args) < cmd.min:
		return r.commandUsageError(cmd, fmt.Errorf("%s needs %s", cmd.name, cmd.args))
	case cmd.max >= 0 && len(args) > cmd.max:
		return r.commandUsageError(cmd, fmt.Errorf("too many arguments for %s", cmd.name))
	}
	ctx, cancel := r.env.Interrupt(context.Background())
	defer cancel()
	s := r.newSession(ctx, opts)
	defer s.close()
	return run(s, args)
}

func (r *runner) unknownCommand(name string) int {
	fmt.Fprintf(r.env.Stderr, "taskmasterctl: unknown command %q\n", name)
	if r.inShell {
		// The whole usage after every typo would bury the prompt.
		fmt.Fprintln(r.env.Stderr, "type help for the list of commands")
		return ExitUsage
	}
	writeUsage(r.env.Stderr)
	return ExitUsage
}

func (r *runner) globalUsageError(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		writeUsage(r.env.Stdout)
		return ExitOK
	}
	fmt.Fprintf(r.env.Stderr, "taskmasterctl: %v\n", err)
	writeUsage(r.env.Stderr)
	return ExitUsage
}

func (r *runner) commandUsageError(cmd *command, err error) int {
	fmt.Fprintf(r.env.Stderr, "taskmasterctl: %v\nusage: %s\n", err, cmd.synopsis())
	return ExitUsage
}

// writeUsage prints the usage of taskmasterctl, built from the command
// table.
func writeUsage(w io.Writer) {
	fmt.Fprint(w, `usage: taskmasterctl [-addr ADDR] [-token T] [-json] [-timeout D] COMMAND [ARGS]
       taskmasterctl [flags]   (no command: interactive shell, when stdin is a terminal)

commands:
`)
	rows := make([][]string, 0, len(commands))
	for _, c := range commands {
		rows = append(rows, []string{"  " + c.name + " " + c.args, c.help})
	}
	writeColumns(w, rows)
	fmt.Fprintf(w, `
flags (before or after the command):
  -addr ADDR    taskmasterd address (env TASKMASTER_ADDR, default %s)
  -token T      token sent with every request (env TASKMASTER_TOKEN)
  -json         print JSON, for scripts
  -timeout D    bound on connecting and on each reply, 0 for none (default %v)

exit codes: 0 ok, 1 the daemon said fail/invalid/redundant, 2 usage, 3 cannot reach taskmasterd;
  attach: the exit code of the process when it exits
`, DefaultAddr, DefaultTimeout)
}

func runHelp(s *session, args []string) int {
	if len(args) == 0 {
		writeUsage(s.out)
		return ExitOK
	}
	cmd, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(s.errw, "taskmasterctl: unknown command %q\n", args[0])
		return ExitUsage
	}
	fmt.Fprintf(s.out, "usage: %s\n  %s\n", cmd.synopsis(), cmd.help)
	return ExitOK
}

func runVersion(s *session, _ []string) int {
	if s.opts.json {
		return s.printJSON(map[string]string{"version": version.Version})
	}
	fmt.Fprintf(s.out, "taskmasterctl %s\n", version.Version)
	return ExitOK
}
