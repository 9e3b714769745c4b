package ctl

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
)

func TestCannotConnect(t *testing.T) {
	addr := closedAddr(t)
	want := "taskmasterctl: cannot connect to taskmasterd at " + addr + ": connection refused\n"
	for _, args := range [][]string{{"status"}, {"start", "web", "db"}, {"list"}, {"restart", "web"}, {"tail", "-f", "web"}} {
		require.Equal(t, ran{"", want, ExitUnreachable}, runAt(addr, args...), "%q", args)
	}
}

func TestCannotConnectDefaultPort(t *testing.T) {
	got := runAt("127.0.0.1", "-timeout", "2s", "status")
	if got.code == ExitUnreachable { // unless a taskmasterd happens to run here
		require.Contains(t, got.stderr, "cannot connect to taskmasterd at 127.0.0.1:7777: ")
	}
}

func TestNoReplyInTime(t *testing.T) {
	unblock := make(chan struct{})
	d := startDaemon(t, func(*ctlproto.Request) *ctlproto.Response {
		<-unblock
		return ctlproto.Success()
	})
	t.Cleanup(func() { close(unblock) })
	got := d.run("-timeout", "100ms", "stop", "web", "db")
	require.Equal(t, ran{"", "taskmasterctl: no reply from taskmasterd at " + d.addr + " in time (see -timeout)\n", ExitUnreachable}, got)
	require.Len(t, d.requests(), 1, "the other targets are not tried on a dead connection")
}

func TestUsageErrors(t *testing.T) {
	d := startDaemon(t, nil)
	tests := []struct {
		args  []string
		first string // first line of stderr
		usage string // a line of the usage that follows
	}{
		{nil, "taskmasterctl: no command given", "commands:"},
		{[]string{"-json"}, "taskmasterctl: no command given", "commands:"},
		{[]string{"frob"}, `taskmasterctl: unknown command "frob"`, "commands:"},
		{[]string{"-bogus", "status"}, "taskmasterctl: flag provided but not defined: -bogus", "commands:"},
		{[]string{"-timeout", "soon", "status"}, `taskmasterctl: invalid value "soon" for flag -timeout: parse error`, "commands:"},
		{[]string{"start"}, "taskmasterctl: start needs JOB...", "usage: taskmasterctl start JOB..."},
		{[]string{"stop"}, "taskmasterctl: stop needs JOB...", "usage: taskmasterctl stop JOB..."},
		{[]string{"status", "a", "b"}, "taskmasterctl: too many arguments for status", "usage: taskmasterctl status [JOB]"},
		{[]string{"list", "x"}, "taskmasterctl: too many arguments for list", "usage: taskmasterctl list"},
		{[]string{"pull"}, "taskmasterctl: pull needs JOB [FILE]", "usage: taskmasterctl pull JOB [FILE]"},
		{[]string{"push"}, "taskmasterctl: push needs FILE [JOB]", "usage: taskmasterctl push FILE [JOB]"},
		{[]string{"delete", "a", "b"}, "taskmasterctl: too many arguments for delete", "usage: taskmasterctl delete JOB"},
		{[]string{"tail", "-x", "web"}, "taskmasterctl: flag provided but not defined: -x", "usage: taskmasterctl tail [-f] JOB[:N]"},
		{[]string{"help", "frob"}, `taskmasterctl: unknown command "frob"`, ""},
	}
	for _, tt := range tests {
		got := d.run(tt.args...)
		require.Equal(t, ExitUsage, got.code, "%q", tt.args)
		require.Empty(t, got.stdout, "%q", tt.args)
		lines := strings.Split(got.stderr, "\n")
		require.Equal(t, tt.first, lines[0], "%q", tt.args)
		require.Contains(t, got.stderr, tt.usage, "%q", tt.args)
	}
	require.Empty(t, d.requests(), "a usage error sends nothing")
}

func TestHelpAndVersion(t *testing.T) {
	addr := closedAddr(t) // neither needs the daemon
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		got := runAt(addr, args...)
		require.Equal(t, ExitOK, got.code, "%q", args)
		require.True(t, strings.HasPrefix(got.stdout, "usage: taskmasterctl [-addr ADDR]"), "%q", args)
		for _, c := range commands {
			require.Contains(t, got.stdout, "\n  "+c.name+" ", "%q", args)
		}
	}
	require.Equal(t, ran{"usage: taskmasterctl wait JOB [STATE|ready] [--timeout D]\n  wait until every process of JOB is in STATE (default RUNNING), or ready (past its ready check, and healthy)\n", "", 0},
		runAt(addr, "help", "wait"))
	require.Equal(t, ran{"usage: taskmasterctl start JOB...\n  start jobs (JOB, NAME:N or all)\n", "", 0},
		runAt(addr, "start", "-h"))
	require.Equal(t, ran{"taskmasterctl dev\n", "", 0}, runAt(addr, "version"))
	require.Equal(t, ran{`{"version":"dev"}` + "\n", "", 0}, runAt(addr, "-json", "version"))
}

func TestParseInterleaved(t *testing.T) {
	fs := newFlagSet("t")
	state := fs.String("state", "", "")
	follow := fs.Bool("f", false, "")
	args, err := parseInterleaved(fs, []string{"web", "--state", "X", "db", "-f", "--", "-x", "y"})
	require.NoError(t, err)
	require.Equal(t, []string{"web", "db", "-x", "y"}, args)
	require.Equal(t, "X", *state)
	require.True(t, *follow)
}
