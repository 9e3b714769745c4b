package ctl

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// fakeDaemon is a real ctlproto.Server whose handler answers with a
// script the test sets, and records every request that reaches it.
type fakeDaemon struct {
	addr string
	srv  *ctlproto.Server

	mu    sync.Mutex
	got   []sent
	reply func(req *ctlproto.Request) *ctlproto.Response
}

// sent is a request as the daemon saw it, with Data as a string so that
// failures print readably.
type sent struct {
	Command ctlproto.Command
	Job     string
	Data    string
	Token   string
}

func req(cmd ctlproto.Command, job, data string) sent {
	return sent{Command: cmd, Job: job, Data: data}
}

// startDaemon serves reply on a fresh loopback port until the test ends.
func startDaemon(t *testing.T, reply func(req *ctlproto.Request) *ctlproto.Response) *fakeDaemon {
	t.Helper()
	d := &fakeDaemon{reply: reply}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	d.addr = l.Addr().String()
	srv := &ctlproto.Server{Handler: d}
	d.srv = srv
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
		require.ErrorIs(t, <-served, ctlproto.ErrServerClosed)
	})
	return d
}

// ServeCtl records req and answers with the script, outside the lock so
// that a reply may block.
func (d *fakeDaemon) ServeCtl(ctx context.Context, r *ctlproto.Request) *ctlproto.Response {
	d.mu.Lock()
	d.got = append(d.got, sent{Command: r.Command, Job: r.Job, Data: string(r.Data), Token: r.Token})
	reply := d.reply
	d.mu.Unlock()
	if reply == nil {
		return ctlproto.Success()
	}
	return reply(r)
}

func (d *fakeDaemon) requests() []sent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]sent(nil), d.got...)
}

// byCommand answers each command with a fixed reply, success otherwise.
func byCommand(replies map[ctlproto.Command]*ctlproto.Response) func(*ctlproto.Request) *ctlproto.Response {
	return func(r *ctlproto.Request) *ctlproto.Response {
		if resp, ok := replies[r.Command]; ok {
			return resp
		}
		return ctlproto.Success()
	}
}

// byJob answers by job name, success otherwise.
func byJob(replies map[string]*ctlproto.Response) func(*ctlproto.Request) *ctlproto.Response {
	return func(r *ctlproto.Request) *ctlproto.Response {
		if resp, ok := replies[r.Job]; ok {
			return resp
		}
		return ctlproto.Success()
	}
}

// testNow is the clock of every test.
var testNow = time.Date(2026, 11, 21, 20, 3, 12, 500_000_000, time.UTC)

// ran is what one Main call printed and returned.
type ran struct {
	stdout, stderr string
	code           int
}

// testEnv returns an Env with buffers, the test clock, no terminal, and
// the given variables.
func testEnv(vars map[string]string) (Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errw bytes.Buffer
	return Env{
		Stdin:      &bytes.Buffer{},
		Stdout:     &out,
		Stderr:     &errw,
		Getenv:     func(k string) string { return vars[k] },
		IsTerminal: func(any) bool { return false },
		Now:        func() time.Time { return testNow },
	}, &out, &errw
}

// run runs Main against the daemon at addr.
func runAt(addr string, args ...string) ran {
	env, out, errw := testEnv(map[string]string{"TASKMASTER_ADDR": addr})
	code := Main(args, env)
	return ran{out.String(), errw.String(), code}
}

func (d *fakeDaemon) run(args ...string) ran { return runAt(d.addr, args...) }

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}
