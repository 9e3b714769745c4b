package ctl

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
)

func TestSimpleCommands(t *testing.T) {
	fail := ctlproto.Failf(`no such job "nope"`)
	replies := map[string]*ctlproto.Response{
		"db":      ctlproto.Redundant(),
		"nope":    fail,
		"strange": ctlproto.Invalid(`unknown command "repair"`),
	}
	tests := []struct {
		name      string
		args      []string
		want      []sent
		out, errw string
		code      int
	}{
		{name: "start", args: []string{"start", "web"},
			want: []sent{req("start", "web", "")}, out: "web: started\n"},
		{name: "start several, worst code wins", args: []string{"start", "web", "db", "api:1"},
			want: []sent{req("start", "web", ""), req("start", "db", ""), req("start", "api:1", "")},
			out:  "web: started\ndb: already running\napi:1: started\n", code: ExitFail},
		{name: "start all", args: []string{"start", "all"},
			want: []sent{req("start", "all", "")}, out: "all: started\n"},
		{name: "stop", args: []string{"stop", "web:1"},
			want: []sent{req("stop", "web:1", "")}, out: "web:1: stopped\n"},
		{name: "stop redundant", args: []string{"stop", "db"},
			want: []sent{req("stop", "db", "")}, out: "db: already stopped\n", code: ExitFail},
		{name: "kill fails", args: []string{"kill", "nope"},
			want: []sent{req("kill", "nope", "")}, errw: "taskmasterctl: nope: no such job \"nope\"\n", code: ExitFail},
		{name: "repair", args: []string{"repair", "web"},
			want: []sent{req("repair", "web", "")}, out: "web: repaired\n"},
		{name: "invalid", args: []string{"repair", "strange"},
			want: []sent{req("repair", "strange", "")},
			errw: "taskmasterctl: strange: invalid request: unknown command \"repair\"\n", code: ExitFail},
		{name: "delete", args: []string{"delete", "web"},
			want: []sent{req("delete", "web", "")}, out: "web: deleted\n"},
		{name: "reload", args: []string{"reload", "web"},
			want: []sent{req("reload", "web", "")}, out: "web: reloaded\n"},
		{name: "restart alone reloads every file", args: []string{"restart"},
			want: []sent{req("restart", "", "")}, out: "all: reloaded every job file\n"},
		{name: "restart JOB stops then starts", args: []string{"restart", "web", "db"},
			want: []sent{req("stop", "web", ""), req("start", "web", ""), req("stop", "db", ""), req("start", "db", "")},
			out:  "web: restarted\ndb: already running\n", code: ExitFail},
		{name: "restart JOB whose stop fails does not start it", args: []string{"restart", "nope"},
			want: []sent{req("stop", "nope", "")}, errw: "taskmasterctl: nope: no such job \"nope\"\n", code: ExitFail},
		{name: "json", args: []string{"-json", "start", "web", "nope"},
			want: []sent{req("start", "web", ""), req("start", "nope", "")},
			out:  `{"job":"web","response":"success"}` + "\n" + `{"job":"nope","response":"fail","error":"no such job \"nope\""}` + "\n",
			errw: "taskmasterctl: nope: no such job \"nope\"\n", code: ExitFail},
		{name: "global flag after the command", args: []string{"stop", "web", "-json"},
			want: []sent{req("stop", "web", "")}, out: `{"job":"web","response":"success"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDaemon(t, byJob(replies))
			got := d.run(tt.args...)
			require.Equal(t, tt.want, d.requests())
			require.Equal(t, ran{tt.out, tt.errw, tt.code}, got)
		})
	}
}

func TestList(t *testing.T) {
	d := startDaemon(t, byCommand(map[ctlproto.Command]*ctlproto.Response{
		ctlproto.CmdList: ctlproto.List(ctlproto.EncodeJobList([]string{"nginx", "apache2"})),
	}))
	require.Equal(t, ran{"nginx\napache2\n", "", 0}, d.run("list"))
	require.Equal(t, ran{`{"jobs":["nginx","apache2"]}` + "\n", "", 0}, d.run("-json", "list"))
	require.Equal(t, []sent{req("list", "", ""), req("list", "", "")}, d.requests())
}

func TestListEmptyJSON(t *testing.T) {
	d := startDaemon(t, byCommand(map[ctlproto.Command]*ctlproto.Response{
		ctlproto.CmdList: ctlproto.List(ctlproto.EncodeJobList(nil)),
	}))
	require.Equal(t, ran{`{"jobs":[]}` + "\n", "", 0}, d.run("-json", "list"))
}

func TestToken(t *testing.T) {
	d := startDaemon(t, nil)
	require.Equal(t, 0, d.run("-token", "s3cret", "start", "web").code)

	env, _, _ := testEnv(map[string]string{"TASKMASTER_ADDR": d.addr, "TASKMASTER_TOKEN": "from-env"})
	require.Equal(t, 0, Main([]string{"stop", "web"}, env))

	got := d.requests()
	require.Equal(t, "s3cret", got[0].Token)
	require.Equal(t, "from-env", got[1].Token)
}

func TestAuthenticationFailure(t *testing.T) {
	d := startDaemon(t, func(*ctlproto.Request) *ctlproto.Response { return ctlproto.Failf("bad token") })
	require.Equal(t, ran{"", "taskmasterctl: list: bad token\n", ExitFail}, d.run("list"))
}
