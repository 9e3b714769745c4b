package ctl

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// statusAll is a status reply for every job: a running job with two
// instances, a job in trouble, one whose new file is bad, and an INVALID one.
const statusAll = `{"jobs":[` +
	`{"name":"web","state":"RUNNING","autostart":true,"critical":false,"healthy":true,"processes":[` +
	`{"name":"web:0","pid":42,"state":"RUNNING","since":"2026-11-21T20:00:00.123Z","restarts":0,"exit_code":null},` +
	`{"name":"web:1","pid":43,"state":"RUNNING","since":"2026-11-19T17:00:00Z","restarts":2,"exit_code":1}]},` +
	`{"name":"worker","state":"FATAL","autostart":true,"critical":false,"healthy":false,"processes":[` +
	`{"name":"worker:0","pid":0,"state":"FATAL","since":"2026-11-21T20:03:00Z","restarts":3,"exit_code":137,"signal":"SIGKILL","detail":"exited too quickly"}]},` +
	`{"name":"batch","state":"EXITED","autostart":false,"critical":false,"healthy":true,"error":"batch.tm.json: unknown key \"cmdd\"","processes":[` +
	`{"name":"batch:0","pid":0,"state":"EXITED","since":"2026-11-21T18:00:00Z","restarts":0,"exit_code":0,"detail":"exit status 0, expected"}]},` +
	`{"name":"broken","state":"INVALID","autostart":false,"critical":false,"healthy":false,"error":"broken.tm.json:1:2: \"cmdd\": unknown key\nbroken.tm.json: cmd is required\n","processes":[]}]}`

const tableAll = `NAME      STATE    PID  UPTIME  RESTARTS  EXIT     DETAIL
web:0     RUNNING  42   3m12s   0         -
web:1     RUNNING  43   2d3h    2         1
worker:0  FATAL    -    -       3         SIGKILL  exited too quickly
batch:0   EXITED   -    -       0         0        exit status 0, expected; job file not in use: batch.tm.json: unknown key "cmdd"
broken    INVALID  -    -       -         -        broken.tm.json:1:2: "cmdd": unknown key; broken.tm.json: cmd is required
`

func statusDaemon(t *testing.T, data string) *fakeDaemon {
	return startDaemon(t, func(*ctlproto.Request) *ctlproto.Response { return ctlproto.Status([]byte(data)) })
}

func TestStatusTable(t *testing.T) {
	d := statusDaemon(t, statusAll)
	require.Equal(t, ran{tableAll, "", 0}, d.run("status"))
	require.Equal(t, []sent{req("status", "", "")}, d.requests())
}

func TestStatusOneJob(t *testing.T) {
	one := `{"name":"web","state":"STOPPED","autostart":true,"critical":false,"healthy":false,"processes":[` +
		`{"name":"web:0","pid":0,"state":"STOPPED","since":"2026-11-21T20:00:00Z","restarts":0,"exit_code":null}]}`
	d := statusDaemon(t, one)
	want := "NAME   STATE    PID  UPTIME  RESTARTS  EXIT  DETAIL\n" +
		"web:0  STOPPED  -    -       0         -\n"
	require.Equal(t, ran{want, "", 0}, d.run("status", "web"))
	require.Equal(t, []sent{req("status", "web", "")}, d.requests())
}

func TestStatusJSONIsTheDaemonsData(t *testing.T) {
	d := statusDaemon(t, statusAll)
	require.Equal(t, ran{statusAll + "\n", "", 0}, d.run("-json", "status"))
}

func TestStatusNoJobs(t *testing.T) {
	d := statusDaemon(t, `{"jobs":[]}`)
	require.Equal(t, ran{"no jobs\n", "", 0}, d.run("status"))
}

func TestStatusFail(t *testing.T) {
	d := startDaemon(t, func(*ctlproto.Request) *ctlproto.Response { return ctlproto.Failf(`no such job "x"`) })
	require.Equal(t, ran{"", "taskmasterctl: x: no such job \"x\"\n", ExitFail}, d.run("status", "x"))
}

func TestStatusBadJSON(t *testing.T) {
	d := statusDaemon(t, `{"jobs":`)
	got := d.run("status")
	require.Equal(t, ExitFail, got.code)
	require.Contains(t, got.stderr, "taskmasterctl: status: bad reply from taskmasterd")
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestStatusColour(t *testing.T) {
	d := statusDaemon(t, statusAll)
	run := func(vars map[string]string, terminal bool) string {
		vars["TASKMASTER_ADDR"] = d.addr
		env, out, _ := testEnv(vars)
		env.IsTerminal = func(any) bool { return terminal }
		require.Equal(t, 0, Main([]string{"status"}, env))
		return out.String()
	}
	coloured := run(map[string]string{}, true)
	require.Contains(t, coloured, "\x1b[32mRUNNING\x1b[0m")
	require.Contains(t, coloured, "\x1b[31mFATAL\x1b[0m")
	require.Contains(t, coloured, "\x1b[31mINVALID\x1b[0m")
	require.Contains(t, coloured, "\x1b[39mEXITED\x1b[0m", "an expected exit is not an error")
	// Same columns once the colours are gone: alignment survives them.
	require.Equal(t, tableAll, ansi.ReplaceAllString(coloured, ""))

	require.Equal(t, tableAll, run(map[string]string{"NO_COLOR": "1"}, true))
	require.Equal(t, tableAll, run(map[string]string{"TERM": "dumb"}, true))
	require.Equal(t, tableAll, run(map[string]string{}, false))
}

func TestStateColor(t *testing.T) {
	tests := []struct {
		r    row
		want sgr
	}{
		{row{state: "RUNNING"}, colorGreen},
		{row{state: "STARTING"}, colorYellow},
		{row{state: "BACKOFF"}, colorYellow},
		{row{state: "STOPPING"}, colorYellow},
		{row{state: "STOPPED"}, colorDim},
		{row{state: "FATAL"}, colorRed},
		{row{state: "INVALID"}, colorRed},
		{row{state: "EXITED", exit: "1", detail: "exit status 1, unexpected"}, colorRed},
		{row{state: "EXITED", exit: "3", detail: "exit status 3, expected"}, colorHeader},
		{row{state: "EXITED", exit: "SIGTERM"}, colorRed},
		{row{state: "EXITED", exit: "0"}, colorHeader},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, stateColor(tt.r), "%+v", tt.r)
	}
}

func TestHumanize(t *testing.T) {
	tests := map[time.Duration]string{
		-time.Second:                          "0s",
		0:                                     "0s",
		12*time.Second + 900*time.Millisecond: "12s",
		3*time.Minute + 12*time.Second:        "3m12s",
		2*time.Hour + 5*time.Minute + 59*time.Second: "2h5m",
		4*24*time.Hour + 3*time.Hour + 7*time.Minute: "4d3h",
	}
	for d, want := range tests {
		require.Equal(t, want, humanize(d), "%v", d)
	}
}

func TestHealth(t *testing.T) {
	healthy := `{"jobs":[` +
		`{"name":"web","state":"RUNNING","autostart":true,"healthy":true,"processes":[]},` +
		`{"name":"db","state":"RUNNING","autostart":true,"healthy":true,"processes":[]},` +
		`{"name":"manual","state":"STOPPED","autostart":false,"healthy":false,"processes":[]}]}`
	d := statusDaemon(t, healthy)
	require.Equal(t, ran{"healthy: 2 autostart jobs\n", "", 0}, d.run("health"))
	require.Equal(t, ran{`{"healthy":true,"unhealthy":[]}` + "\n", "", 0}, d.run("-json", "health"))
	require.Equal(t, []sent{req("status", "", ""), req("status", "", "")}, d.requests())

	d = statusDaemon(t, statusAll)
	require.Equal(t, ran{"", "taskmasterctl: worker: unhealthy (FATAL): worker:0: exited too quickly\n" +
		"taskmasterctl: batch: unhealthy (EXITED): job file not in use: batch.tm.json: unknown key \"cmdd\"\n" +
		"taskmasterctl: broken: unhealthy (INVALID): broken.tm.json:1:2: \"cmdd\": unknown key; broken.tm.json: cmd is required\n",
		ExitFail}, d.run("health"))
	got := d.run("-json", "health")
	require.Equal(t, `{"healthy":false,"unhealthy":["worker","batch","broken"]}`+"\n", got.stdout)
	require.Equal(t, ExitFail, got.code)
}

// A job file taskmasterd cannot use is unhealthy, autostart or not: INVALID
// files (which have no settings, so no autostart), and a running job whose
// file was edited into an invalid one while its last good version runs on.
func TestHealthInvalidJobFiles(t *testing.T) {
	const web = `{"name":"web","state":"RUNNING","autostart":true,"healthy":true,"processes":[` +
		`{"name":"web:0","pid":42,"state":"RUNNING","since":"2026-11-21T20:00:00Z","restarts":0,"exit_code":null}]}`
	tests := []struct {
		name, jobs, stderr, json string
	}{
		{"two invalid files", web + `,` +
			`{"name":"typo","state":"INVALID","autostart":false,"healthy":false,"error":"/j/typo.tm.json:2:3: \"cmdd\": unknown key (did you mean \"cmd\"?)\n/j/typo.tm.json: cmd: required key is missing","processes":[]},` +
			`{"name":"zz","state":"INVALID","autostart":false,"healthy":false,"error":"/j/zz.tm.json:1:14: invalid JSON: missing ',' before \"b\" (after the value of \"a\")","processes":[]}`,
			"taskmasterctl: typo: unhealthy (INVALID): /j/typo.tm.json:2:3: \"cmdd\": unknown key (did you mean \"cmd\"?); /j/typo.tm.json: cmd: required key is missing\n" +
				"taskmasterctl: zz: unhealthy (INVALID): /j/zz.tm.json:1:14: invalid JSON: missing ',' before \"b\" (after the value of \"a\")\n",
			`{"healthy":false,"unhealthy":["typo","zz"]}`},
		{"running job with a broken file",
			`{"name":"api","state":"RUNNING","autostart":true,"healthy":true,"error":"/j/api.tm.json:3:15: numprocs: expected an integer from 1 to 1024, got -1","processes":[` +
				`{"name":"api:0","pid":43,"state":"RUNNING","since":"2026-11-21T20:00:00Z","restarts":0,"exit_code":null}]},` + web,
			"taskmasterctl: api: unhealthy (RUNNING): job file not in use: /j/api.tm.json:3:15: numprocs: expected an integer from 1 to 1024, got -1\n",
			`{"healthy":false,"unhealthy":["api"]}`},
		{"manual job with a broken file",
			`{"name":"once","state":"STOPPED","autostart":false,"healthy":true,"error":"/j/once.tm.json: cmd: required key is missing","processes":[` +
				`{"name":"once:0","pid":0,"state":"STOPPED","since":"2026-11-21T20:00:00Z","restarts":0,"exit_code":null}]},` + web,
			"taskmasterctl: once: unhealthy (STOPPED): job file not in use: /j/once.tm.json: cmd: required key is missing\n",
			`{"healthy":false,"unhealthy":["once"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := statusDaemon(t, `{"jobs":[`+tt.jobs+`]}`)
			require.Equal(t, ran{"", tt.stderr, ExitFail}, d.run("health"))
			got := d.run("-json", "health")
			require.Equal(t, ran{tt.json + "\n", tt.stderr, ExitFail}, got)
		})
	}
}

func TestHealthUnreachable(t *testing.T) {
	got := runAt(closedAddr(t), "health")
	require.Equal(t, ExitUnreachable, got.code)
}

// statusChecks is a status reply with ready and health checks: a database
// not ready yet, a web server healthy after a failure, one unhealthy, and a
// job without checks beside them.
const statusChecks = `{"jobs":[` +
	`{"name":"db","state":"STARTING","autostart":true,"critical":false,"healthy":false,"processes":[` +
	`{"name":"db:0","pid":40,"state":"STARTING","since":"2026-11-21T20:03:00Z","restarts":0,"exit_code":null,"ready":"waiting","check_error":"dial tcp 127.0.0.1:5432: connect: connection refused","notify_status":"replaying the WAL"}]},` +
	`{"name":"web","state":"RUNNING","autostart":false,"critical":false,"healthy":false,"processes":[` +
	`{"name":"web:0","pid":42,"state":"RUNNING","since":"2026-11-21T20:00:00Z","restarts":0,"exit_code":null,"ready":"ready","health":"healthy","health_failures":1,"check_error":"HTTP 500 Internal Server Error (want 200-299)"},` +
	`{"name":"web:1","pid":43,"state":"RUNNING","since":"2026-11-21T20:00:00Z","restarts":1,"exit_code":null,"ready":"ready","health":"unhealthy","health_failures":3,"check_error":"timed out after 5s"}]},` +
	`{"name":"cron","state":"RUNNING","autostart":true,"critical":false,"healthy":true,"processes":[` +
	`{"name":"cron:0","pid":44,"state":"RUNNING","since":"2026-11-21T20:00:00Z","restarts":0,"exit_code":null}]}]}`

func TestStatusTableShowsChecks(t *testing.T) {
	d := statusDaemon(t, statusChecks)
	want := `NAME    STATE     HEALTH              PID  UPTIME  RESTARTS  EXIT  DETAIL
db:0    STARTING  not ready           40   -       0         -     replaying the WAL; dial tcp 127.0.0.1:5432: connect: connection refused
web:0   RUNNING   healthy (1 failed)  42   3m12s   0         -     HTTP 500 Internal Server Error (want 200-299)
web:1   RUNNING   unhealthy           43   3m12s   1         -     timed out after 5s
cron:0  RUNNING   -                   44   3m12s   0         -
`
	require.Equal(t, ran{want, "", 0}, d.run("status"))
}

// The health command fails a job whose instance is unhealthy, even one
// not started automatically, and one whose instance is not ready yet, and
// says why.
func TestHealthWithChecks(t *testing.T) {
	d := statusDaemon(t, statusChecks)
	require.Equal(t, ran{"", "taskmasterctl: db: unhealthy (STARTING): db:0: not ready: dial tcp 127.0.0.1:5432: connect: connection refused\n" +
		"taskmasterctl: web: unhealthy (RUNNING): web:1: unhealthy: timed out after 5s\n", ExitFail}, d.run("health"))

	// A critical job is held to its settings whatever its autostart.
	critical := `{"jobs":[{"name":"app","state":"BACKOFF","autostart":false,"critical":true,"healthy":false,"processes":[` +
		`{"name":"app:0","pid":0,"state":"BACKOFF","since":"2026-11-21T20:00:00Z","restarts":1,"exit_code":1,"detail":"exited too quickly (exit status 1); retry 1 of 3 in 250ms"}]}]}`
	d = statusDaemon(t, critical)
	require.Equal(t, ran{"", "taskmasterctl: app: unhealthy (BACKOFF): app:0: exited too quickly (exit status 1); retry 1 of 3 in 250ms\n", ExitFail}, d.run("health"))
}
