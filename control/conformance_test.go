package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/jobs"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// start, stop, kill and repair answer success, redundant (ErrRedundant,
// wrapped or not; success for repair, see TestRepairNothingToRepair) or fail
// with the error's text, and pass the target on untouched.
func TestJobOperations(t *testing.T) {
	tests := []struct {
		name string
		job  string
		err  func(cmd string) error
		want string
	}{
		{"success", "web", nil, success},
		{"instance", "web:1", nil, success},
		{"all", "all", nil, success},
		{"redundant", "web", func(string) error { return jobs.ErrRedundant }, redundant},
		{"wrapped redundant", "web", func(cmd string) error {
			return fmt.Errorf("%s %q: %w", cmd, "web", jobs.ErrRedundant)
		}, redundant},
		{"no such job", "web", func(string) error {
			return fmt.Errorf("%w: %q", jobs.ErrNoSuchJob, "web")
		}, failReply(`no such job: "web"`)},
		{"fail", "web", func(cmd string) error {
			return fmt.Errorf("%s web: fork/exec /bin/ä: permission denied", cmd)
		}, ""},
	}
	for _, cmd := range []string{"start", "stop", "kill", "repair"} {
		for _, tt := range tests {
			t.Run(cmd+"/"+tt.name, func(t *testing.T) {
				r := newRig(t)
				want := tt.want
				if cmd == "repair" && want == redundant {
					want = success
				}
				if tt.err != nil {
					err := tt.err(cmd)
					r.sup.fail(cmd, tt.job, err)
					if want == "" {
						want = failReply(err.Error())
					}
				}
				require.Equal(t, want, r.exchange(request(cmd, tt.job, "")))
				require.Equal(t, []string{cmd + " " + tt.job}, r.sup.Log())
			})
		}
	}
}

// sampleStatus is what the fake supervisor reports for two jobs.
func sampleStatus() []jobs.JobStatus {
	code := 3
	since := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	return []jobs.JobStatus{
		{Name: "web", State: "RUNNING", AutoStart: true, Healthy: true, Processes: []jobs.ProcessStatus{
			{Name: "web:0", Pid: 42, State: "RUNNING", Since: since},
			{Name: "web:1", Pid: 43, State: "RUNNING", Since: since, Restarts: 2},
		}},
		{Name: "db", State: "EXITED", Critical: true, Error: "db.tm.json: cmd: expected a command", Processes: []jobs.ProcessStatus{
			{Name: "db:0", State: "EXITED", Since: since, ExitCode: &code, Detail: "exited with 3"},
		}},
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// status without a job, with "job":"" or with "all" answers {"jobs":[...]};
// with a job or an instance, that job's object alone.
func TestStatus(t *testing.T) {
	all := sampleStatus()
	tests := []struct {
		name, send, target string
		reported           []jobs.JobStatus
		wantJSON           string
	}{
		{"no job key", `{"command":"status"};;`, "", all, ""},
		{"empty job", `{"command":"status","job":""};;`, "", all, ""},
		{"original client", `{"cmd":"status","job":"","data":""};;`, "", all, ""},
		{"null job", `{"command":"status","job":null,"data":null};;`, "", all, ""},
		{"all", request("status", "all", ""), "all", all, ""},
		{"one job", request("status", "web", ""), "web", all[:1], mustMarshal(t, all[0])},
		{"one instance", request("status", "db:0", ""), "db:0", all[1:], mustMarshal(t, all[1])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.sup.setStatus(tt.reported)
			got := r.exchange(tt.send)
			require.Equal(t, []string{"status " + tt.target}, r.sup.Log())
			if tt.wantJSON != "" {
				require.Equal(t, statusReply(tt.wantJSON), got)
				var one jobs.JobStatus
				require.NoError(t, json.Unmarshal(decodeReply(t, got).Data, &one))
				require.Equal(t, tt.reported[0], one)
				return
			}
			require.Equal(t, statusReply(`{"jobs":`+mustMarshal(t, all)+`}`), got)
			var doc struct {
				Jobs []jobs.JobStatus `json:"jobs"`
			}
			require.NoError(t, json.Unmarshal(decodeReply(t, got).Data, &doc))
			require.Equal(t, all, doc.Jobs)
		})
	}
}

// With no jobs, status is the document's own example: {"jobs":[]}.
func TestStatusNoJobs(t *testing.T) {
	r := newRig(t)
	require.Equal(t, `{"response":"status","data":"eyJqb2JzIjpbXX0="};;`, r.exchange(`{"command":"status"};;`))
	r.sup.setStatus([]jobs.JobStatus{})
	require.Equal(t, `{"response":"status","data":"eyJqb2JzIjpbXX0="};;`, r.exchange(`{"command":"status"};;`))
}

func TestStatusFail(t *testing.T) {
	r := newRig(t)
	r.sup.fail("status", "ghost", fmt.Errorf("%w: %q", jobs.ErrNoSuchJob, "ghost"))
	require.Equal(t, failReply(`no such job: "ghost"`), r.exchange(request("status", "ghost", "")))
}

// list answers the names under both "jobs" and "processes", and the same
// bytes under both "data" and "list".
func TestList(t *testing.T) {
	r := newRig(t)
	r.sup.setNames("a", "b")
	const x = `{"jobs":[{"name":"a"},{"name":"b"}],"processes":[{"name":"a"},{"name":"b"}]}`
	require.Equal(t, `{"response":"list","data":"`+b64(x)+`","list":"`+b64(x)+`"};;`,
		r.exchange(`{"command":"list"};;`))
	require.Equal(t, listReply(x), r.exchange(`{"cmd":"list","job":"","data":""};;`))
	require.Equal(t, []string{"names ", "names "}, r.sup.Log())

	r.sup.setNames()
	require.Equal(t, listReply(`{"jobs":[],"processes":[]}`), r.exchange(`{"command":"list"};;`))

	r.sup.fail("names", "", errors.New("supervisor is shutting down"))
	require.Equal(t, failReply("supervisor is shutting down"), r.exchange(`{"command":"list"};;`))
}

// reload JOB reloads that job; restart reloads every job.
func TestReloadAndRestart(t *testing.T) {
	r := newRig(t)
	require.Equal(t, success, r.exchange(request("reload", "web", "")))
	require.Equal(t, success, r.exchange(`{"cmd":"restart","job":"","data":""};;`))
	require.Equal(t, success, r.exchange(`{"command":"restart"};;`))
	require.Equal(t, []string{"reload web", "reload ", "reload "}, r.sup.Log())

	r.sup.fail("reload", "web", fmt.Errorf("%w: %q (no web.tm.json in %s)", jobs.ErrNoSuchJob, "web", r.dir))
	require.Equal(t, failReply(fmt.Sprintf(`no such job: "web" (no web.tm.json in %s)`, r.dir)),
		r.exchange(request("reload", "web", "")))
	r.sup.fail("reload", "", errors.New("read job directory: permission denied"))
	require.Equal(t, failReply("read job directory: permission denied"), r.exchange(request("restart", "", "")))
	r.sup.fail("reload", "", fmt.Errorf("reload: %w", jobs.ErrRedundant))
	require.Equal(t, redundant, r.exchange(request("restart", "", "")))
}

// reload of a name that cannot be a job never reaches the supervisor.
func TestReloadInvalidName(t *testing.T) {
	for _, name := range []string{"../x", "a/b", "all", ".hidden", "x y"} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			require.Equal(t, failReply(validNameErr(t, name)), r.exchange(request("reload", name, "")))
			require.Empty(t, r.sup.Log())
		})
	}
}

// A command the protocol layer let through but the handler does not know
// is answered invalid. (The server itself answers unknown commands before
// they reach the handler.)
func TestUnknownCommand(t *testing.T) {
	r := newRig(t)
	require.Equal(t, invalidReply(`unknown command "frob"`), r.exchange(request("frob", "web", "")))
	resp := r.h.ServeCtl(context.Background(), &ctlproto.Request{Command: "frob", Job: "web"})
	require.Equal(t, &ctlproto.Response{Kind: ctlproto.KindInvalid, Error: `unknown command "frob"`}, resp)
	require.Empty(t, r.sup.Log())
}

// What the original taskmasterctl sends: "cmd", all three keys with "",
// "\/" inside base64, whitespace and line breaks.
func TestOriginalClientHabits(t *testing.T) {
	r := newRig(t)
	require.Equal(t, success, r.exchange(`{"cmd":"start","job":"d2Vi","data":""};;`))
	require.Equal(t, success, r.exchange(
		"\r\n{\r\n\t\"cmd\" : \"stop\",\n  \"job\" : \"d2Vi\" ,\n  \"data\" : \"\"\n}\n;;\r\n"))
	// Unpadded base64 and JSON escapes inside base64.
	require.Equal(t, success, r.exchange(`{"cmd":"kill","job":"YWI","data":""};;`))
	require.Equal(t, success, r.exchange(`{"cmd":"repair","job":"\u0064\u0032Vi","data":""};;`))
	require.Equal(t, []string{"start web", "stop web", "kill ab", "repair web"}, r.sup.Log())

	// "Pz8\/" is "???": decoded, then refused as a job name.
	require.Equal(t, failReply(validNameErr(t, "???")), r.exchange(`{"cmd":"pull","job":"Pz8\/","data":""};;`))
}

// repair with nothing to repair answers success, byte for byte, to the
// original taskmasterctl's own request: that client reads redundant only
// after start, stop and kill (and crashes on it after repair), and the
// original daemon answered success. The other commands keep redundant.
func TestRepairNothingToRepair(t *testing.T) {
	r := newRig(t)
	for _, cmd := range []string{"start", "stop", "kill", "repair"} {
		r.sup.fail(cmd, "web", fmt.Errorf("%s %q: %w", cmd, "web", jobs.ErrRedundant))
	}
	require.Equal(t, success, r.exchange(`{"cmd":"repair","job":"d2Vi","data":""};;`))
	require.Equal(t, success, r.exchange(request("repair", "web", "")))
	for _, cmd := range []string{"start", "stop", "kill"} {
		require.Equal(t, redundant, r.exchange(`{"cmd":"`+cmd+`","job":"d2Vi","data":""};;`), cmd)
	}
	require.Equal(t, []string{"repair web", "repair web", "start web", "stop web", "kill web"}, r.sup.Log())
}

// A key given twice is refused before the supervisor hears of it: a
// request read as "list" by one reader must not be a kill for another.
func TestDuplicateKeysRefused(t *testing.T) {
	r := newRig(t)
	for _, tt := range []struct{ send, key string }{
		{`{"command":"list","command":"kill","job":"d2Vi"};;`, "command"},
		{`{"cmd":"status","job":"","data":"","cmd":"kill","job":"d2Vi"};;`, "cmd"},
		{`{"cmd":"kill","job":"ZGI=","data":"","job":"d2Vi"};;`, "job"},
	} {
		require.Equal(t, invalidReply(fmt.Sprintf("duplicate key %q", tt.key)), r.exchange(tt.send))
	}
	require.Empty(t, r.sup.Log())
	// The original client's habits are still welcome on the same connection.
	require.Equal(t, success, r.exchange(`{"cmd":"kill","job":"d2Vi","data":""};;`))
}

// Queries pipelined in one write are answered in order, one reply each.
func TestPipelined(t *testing.T) {
	r := newRig(t)
	file := "{\"cmd\":\"sleep 60\"}\n"
	r.writeJob("web", []byte(file))
	r.sup.fail("stop", "db", jobs.ErrRedundant)
	r.sup.fail("kill", "db", errors.New("kill db: no such process"))
	r.sup.setNames("web")
	send := request("start", "web", "") +
		`{"cmd":"stop","job":"ZGI=","data":""};;` + "\r\n" +
		request("kill", "db", "") +
		`{"command":"list"};;` +
		`{"command":"frob"};;` +
		request("pull", "web", "") +
		`{"cmd":"restart","job":"","data":""};;`
	_, err := r.conn.Write([]byte(send))
	require.NoError(t, err)
	want := []string{
		success,
		redundant,
		failReply("kill db: no such process"),
		listReply(`{"jobs":[{"name":"web"}],"processes":[{"name":"web"}]}`),
		invalidReply(`unknown command "frob"`),
		fileReply("web", file),
		success,
	}
	for i, w := range want {
		require.Equal(t, w, readReply(t, r.conn), "reply %d", i)
	}
	require.Equal(t, []string{"start web", "stop db", "kill db", "names ", "reload "}, r.sup.Log())
}

// validNameErr is the error text the handler must give for a bad name.
func validNameErr(t *testing.T, name string) string {
	t.Helper()
	err := jobfile.ValidName(name)
	require.Error(t, err, "%q is a valid name", name)
	require.True(t, strings.Contains(err.Error(), "invalid job name"), err.Error())
	return err.Error()
}
