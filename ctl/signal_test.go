package ctl

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// signal checks the signal as stopsignal would, sends its name to every
// target, and reports each.
func TestSignalCommand(t *testing.T) {
	d := startDaemon(t, byJob(map[string]*ctlproto.Response{
		"idle": ctlproto.Redundant(),
		"nope": ctlproto.Failf(`no such job "nope"`),
	}))
	got := d.run("signal", "hup", "web", "api:1")
	require.Equal(t, ran{"web: sent SIGHUP\napi:1: sent SIGHUP\n", "", ExitOK}, got)
	got = d.run("signal", "10", "idle", "nope")
	require.Equal(t, ran{"idle: not running\n", "taskmasterctl: nope: no such job \"nope\"\n", ExitFail}, got)
	got = d.run("-json", "signal", "RTMIN+3", "web")
	require.Equal(t, ran{`{"job":"web","response":"success"}` + "\n", "", ExitOK}, got)
	require.Equal(t, []sent{
		req("signal", "web", "SIGHUP"), req("signal", "api:1", "SIGHUP"),
		req("signal", "idle", "SIGUSR1"), req("signal", "nope", "SIGUSR1"),
		req("signal", "web", "SIGRTMIN+3"),
	}, d.requests())

	got = d.run("signal", "FOO", "web")
	require.Equal(t, ExitUsage, got.code)
	require.Equal(t, "taskmasterctl: signal: unknown signal \"FOO\" (expected a name like \"TERM\" or \"SIGUSR1\", \"RTMIN+3\", or a number 1-31/34-64)\nusage: taskmasterctl signal SIG JOB...\n", got.stderr)
	require.Equal(t, ExitUsage, d.run("signal", "HUP").code)
	require.Len(t, d.requests(), 5, "no request for a usage error")

	old := startDaemon(t, func(*ctlproto.Request) *ctlproto.Response { return ctlproto.Invalid(`unknown command "signal"`) })
	got = old.run("signal", "HUP", "web")
	require.Equal(t, ExitFail, got.code)
	require.Contains(t, got.stderr, "this taskmasterd is older than taskmasterctl: it does not have signal yet")
}

// shutdown, without a terminal, asks nothing: it sends the request and
// returns once the daemon has closed the connection.
func TestShutdownWaitsForTheDaemon(t *testing.T) {
	asked := make(chan struct{}, 1)
	d := startDaemon(t, func(r *ctlproto.Request) *ctlproto.Response {
		if r.Command == ctlproto.CmdShutdown {
			asked <- struct{}{}
		}
		return ctlproto.Success()
	})
	done := make(chan ran, 1)
	go func() { done <- d.run("shutdown") }()
	<-asked
	select {
	case got := <-done:
		t.Fatalf("shutdown returned before taskmasterd stopped: %+v", got)
	default:
	}
	d.stop(t)
	got := <-done
	require.Equal(t, ran{"taskmasterd at " + d.addr + ": shutting down\ntaskmasterd: stopped\n", "", ExitOK}, got)
	require.Equal(t, []sent{req("shutdown", "", "")}, d.requests())
}

// A taskmasterd that does not stop within -timeout: exit 3.
func TestShutdownTimeout(t *testing.T) {
	d := startDaemon(t, nil)
	got := d.run("-timeout", "100ms", "shutdown")
	require.Equal(t, ExitUnreachable, got.code)
	require.Contains(t, got.stderr, "has not stopped within 100ms (see -timeout)")
}

// At a terminal, shutdown asks first: anything but y or yes cancels it
// (nothing is sent); -y skips the question.
func TestShutdownConfirmation(t *testing.T) {
	d := startDaemon(t, nil)
	a := startAtTerminal(t, d.addr, "shutdown")
	a.waitFor("Shut down taskmasterd at " + d.addr + ", stopping every job? [y/N] ")
	a.typeKeys("n\r")
	require.Equal(t, ExitFail, a.exitCode())
	a.waitFor("taskmasterctl: shutdown cancelled")
	require.Empty(t, d.requests())

	a = startAtTerminal(t, d.addr, "-timeout", "50ms", "shutdown")
	a.waitFor("[y/N] ")
	a.typeKeys("yes\r")
	a.waitFor("shutting down")
	require.Equal(t, ExitUnreachable, a.exitCode(), "the fake daemon never stops")
	require.Equal(t, []sent{req("shutdown", "", "")}, d.requests())

	a = startAtTerminal(t, d.addr, "-timeout", "50ms", "shutdown", "-y")
	a.waitFor("shutting down")
	require.NotContains(t, a.screen.String(), "[y/N]")
	require.Equal(t, ExitUnreachable, a.exitCode())
}

// stop shuts the fake daemon's server down, which closes its connections.
func (d *fakeDaemon) stop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, d.srv.Shutdown(ctx))
}
