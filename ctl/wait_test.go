package ctl

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
)

func TestWaitFlags(t *testing.T) {
	tests := []struct {
		args      []string
		job, data string
		out       string
	}{
		{[]string{"wait", "web", "--state", "RUNNING", "--timeout", "30s"},
			"web", `{"state":"RUNNING","timeout_ms":30000}`, "web: RUNNING\n"},
		{[]string{"wait", "web"},
			"web", `{"state":"RUNNING","timeout_ms":30000}`, "web: RUNNING\n"},
		{[]string{"wait", "--state=stopped", "web:1", "-timeout", "1m"},
			"web:1", `{"state":"STOPPED","timeout_ms":60000}`, "web:1: STOPPED\n"},
		{[]string{"-timeout", "5s", "wait", "all", "--timeout", "1500ms", "--state", "EXITED"},
			"all", `{"state":"EXITED","timeout_ms":1500}`, "all: EXITED\n"},
		{[]string{"wait", "db", "ready"},
			"db", `{"state":"READY","timeout_ms":30000}`, "db: ready\n"},
		{[]string{"wait", "--timeout", "2m", "db", "READY"},
			"db", `{"state":"READY","timeout_ms":120000}`, "db: ready\n"},
		{[]string{"wait", "db", "--state", "ready"},
			"db", `{"state":"READY","timeout_ms":30000}`, "db: ready\n"},
		{[]string{"wait", "web:0", "stopped"},
			"web:0", `{"state":"STOPPED","timeout_ms":30000}`, "web:0: STOPPED\n"},
	}
	for _, tt := range tests {
		d := startDaemon(t, nil)
		require.Equal(t, ran{tt.out, "", 0}, d.run(tt.args...), "%q", tt.args)
		require.Equal(t, []sent{req("wait", tt.job, tt.data)}, d.requests(), "%q", tt.args)
	}
}

func TestWaitUsageErrors(t *testing.T) {
	d := startDaemon(t, nil)
	for _, args := range [][]string{
		{"wait"},
		{"wait", "web", "--state", "SLEEPING"},
		{"wait", "web", "--timeout", "0s"},
		{"wait", "web", "--timeout", "soon"},
		{"wait", "web", "db"},
		{"wait", "web", "--state"},
		{"wait", "web", "ready", "RUNNING"},
		{"wait", "--state", "RUNNING", "web", "ready"},
	} {
		got := d.run(args...)
		require.Equal(t, ExitUsage, got.code, "%q", args)
		require.Contains(t, got.stderr, "usage: taskmasterctl wait JOB", "%q", args)
	}
	require.Empty(t, d.requests())
}

func TestWaitFails(t *testing.T) {
	d := startDaemon(t, func(*ctlproto.Request) *ctlproto.Response {
		return ctlproto.Failf("web did not reach RUNNING within 1s")
	})
	require.Equal(t, ran{"", "taskmasterctl: web: web did not reach RUNNING within 1s\n", ExitFail},
		d.run("wait", "web", "--timeout", "1s"))
}

func tailReplyOf(out string, next uint64, truncated bool) *ctlproto.Response {
	data, _ := json.Marshal(tailReply{Output: []byte(out), Next: next, Truncated: truncated})
	return ctlproto.File("web:0", data)
}

func TestTail(t *testing.T) {
	d := startDaemon(t, func(*ctlproto.Request) *ctlproto.Response { return tailReplyOf("hello\nworld\n", 12, true) })
	require.Equal(t, ran{"hello\nworld\n", "", 0}, d.run("tail", "web:0"))
	require.Equal(t, []sent{req("tail", "web:0", "")}, d.requests())
}

func TestTailFollow(t *testing.T) {
	var n atomic.Int32
	d := startDaemon(t, func(*ctlproto.Request) *ctlproto.Response {
		switch n.Add(1) {
		case 1:
			return tailReplyOf("hello\n", 6, false)
		case 2:
			return tailReplyOf("", 6, false) // the long poll timed out
		case 3:
			return tailReplyOf("world\n", 20, true)
		}
		return ctlproto.Failf(`no such job "web"`)
	})
	got := d.run("tail", "web", "-f")
	require.Equal(t, ran{"hello\nworld\n",
		"taskmasterctl: web: some output was lost (taskmasterd keeps only recent output)\n" +
			"taskmasterctl: web: no such job \"web\"\n", ExitFail}, got)
	follow := func(after string) sent {
		return req("tail", "web", `{"after":`+after+`,"follow":true,"timeout_ms":30000}`)
	}
	require.Equal(t, []sent{req("tail", "web", ""), follow("6"), follow("6"), follow("20")}, d.requests())
}

func TestTailFollowInterrupted(t *testing.T) {
	release, unblock := make(chan struct{}), make(chan struct{})
	var n atomic.Int32
	d := startDaemon(t, func(r *ctlproto.Request) *ctlproto.Response {
		if n.Add(1) == 1 {
			return tailReplyOf("hello\n", 6, false)
		}
		close(release) // the follow request is in: press Ctrl-C
		<-unblock
		return ctlproto.Failf("unblocked")
	})
	t.Cleanup(func() { close(unblock) }) // runs before the daemon's shutdown
	env, out, errw := testEnv(map[string]string{"TASKMASTER_ADDR": d.addr})
	env.Interrupt = func(parent context.Context) (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(parent)
		go func() {
			<-release
			cancel()
		}()
		return ctx, cancel
	}
	require.Equal(t, ExitInterrupted, Main([]string{"tail", "-f", "web"}, env))
	require.Equal(t, "hello\n", out.String())
	require.Equal(t, "\ntaskmasterctl: interrupted\n", errw.String())
}
