package ctl

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/term"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// jobsDaemon knows the jobs web (two instances), worker and db.
func jobsDaemon(t *testing.T) *fakeDaemon {
	return startDaemon(t, func(r *ctlproto.Request) *ctlproto.Response {
		switch r.Command {
		case ctlproto.CmdList:
			return ctlproto.List(ctlproto.EncodeJobList([]string{"web", "worker", "db"}))
		case ctlproto.CmdStatus:
			if r.Job == "web" {
				return ctlproto.Status([]byte(`{"name":"web","processes":[{"name":"web:0"},{"name":"web:1"}]}`))
			}
			return ctlproto.Failf("no such job")
		}
		return ctlproto.Success()
	})
}

// testCompleter completes against d with a clock the test moves.
func testCompleter(d *fakeDaemon, now *time.Time) (*completer, *bytes.Buffer) {
	env, _, _ := testEnv(nil)
	env.Now = func() time.Time { return *now }
	r := &runner{env: env.withDefaults(), inShell: true}
	var screen bytes.Buffer
	tm := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{&bytes.Buffer{}, &screen}, "> ")
	return newCompleter(r, options{addr: d.addr}, tm), &screen
}

func TestComplete(t *testing.T) {
	d := jobsDaemon(t)
	now := testNow
	c, screen := testCompleter(d, &now)
	tests := []struct {
		line   string // | marks the cursor
		want   string
		listed string // candidates shown on the screen
	}{
		{"sta|", "status|", "status  start"},
		{"st|", "status|", "status  start  stop"},
		{"re|", "restart|", "restart  repair  reload"},
		{"stat|", "status |", ""},
		{"q|", "quit |", ""},
		{"start w|", "start web|", "web  worker"},
		{"start wo|", "start worker |", ""},
		{"start web worker d|", "start web worker db |", ""},
		{"start a|", "start all |", ""},
		{"stop web:|", "stop web:0|", "web:0  web:1"},
		{"stop web:1|", "stop web:1 |", ""},
		{"tail a|", "tail a|", ""},   // tail takes no "all"
		{"pull d|", "pull db |", ""}, // then a file name: nothing
		{"pull db x|", "pull db x|", ""},
		{"push f|", "push f|", ""},
		{"push web.tm.json w|", "push web.tm.json web|", "web  worker"},
		{"delete web:|", "delete web:|", ""}, // a job file, not an instance
		{"-json -addr x stat|", "-json -addr x status |", ""},
		{"wait --state RUNNING wo|", "wait --state RUNNING worker |", ""},
		{"wait wo| --state", "wait worker | --state", ""},
		{"wait db re|", "wait db ready |", ""},
		{"wait db STA|", "wait db STARTING |", ""},
		{"help wa|", "help wait |", ""},
		{"frob w|", "frob w|", ""},
		{"list |", "list |", ""},
		{"status zz|", "status zz|", ""},
	}
	for _, tt := range tests {
		screen.Reset()
		pos := strings.Index(tt.line, "|")
		line, newPos, ok := c.complete(strings.Replace(tt.line, "|", "", 1), pos, '\t')
		require.True(t, ok, tt.line)
		require.Equal(t, tt.want, line[:newPos]+"|"+line[newPos:], tt.line)
		require.Equal(t, tt.listed, strings.TrimSpace(screen.String()), tt.line)
	}
	_, _, ok := c.complete("sta", 3, 'x')
	require.False(t, ok, "only Tab completes")
}

func TestCompleteCycles(t *testing.T) {
	d := jobsDaemon(t)
	now := testNow
	c, screen := testCompleter(d, &now)
	line, pos := "start w", 7
	var seen []string
	for range 3 {
		line, pos, _ = c.complete(line, pos, '\t')
		seen = append(seen, line)
	}
	require.Equal(t, []string{"start web", "start worker", "start web"}, seen)
	require.Equal(t, "web  worker", strings.TrimSpace(screen.String()), "listed once")

	c.complete(line, pos, 'x') // any other key ends the menu
	line, _, _ = c.complete("start web", 9, '\t')
	require.Equal(t, "start web ", line, "a fresh completion, of web alone")
}

func TestCompletionCache(t *testing.T) {
	d := jobsDaemon(t)
	now := testNow
	c, _ := testCompleter(d, &now)
	count := func(cmd ctlproto.Command) int {
		n := 0
		for _, r := range d.requests() {
			if r.Command == cmd {
				n++
			}
		}
		return n
	}
	c.complete("start w", 7, '\t')
	c.complete("stop w", 6, '\t')
	require.Equal(t, 1, count(ctlproto.CmdList), "cached")
	now = now.Add(completionTTL)
	c.complete("stop w", 6, '\t')
	require.Equal(t, 2, count(ctlproto.CmdList), "fetched again once stale")
	c.complete("stop web:", 9, '\t')
	c.complete("stop web:", 9, '\t')
	require.Equal(t, []sent{req("status", "web", "")}, filter(d.requests(), ctlproto.CmdStatus))
}

func filter(reqs []sent, cmd ctlproto.Command) []sent {
	var out []sent
	for _, r := range reqs {
		if r.Command == cmd {
			out = append(out, r)
		}
	}
	return out
}

func TestCompletionWithoutDaemon(t *testing.T) {
	now := testNow
	c, _ := testCompleter(&fakeDaemon{addr: closedAddr(t)}, &now)
	line, pos, ok := c.complete("start w", 7, '\t')
	require.Equal(t, "start w", line)
	require.Equal(t, 7, pos)
	require.True(t, ok)
	line, _, _ = c.complete("start a", 7, '\t')
	require.Equal(t, "start all ", line, "all needs no daemon")
}
