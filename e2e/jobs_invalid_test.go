package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Invalid job files: each is reported in status with the error docs/jobs.md
// (Errors) documents, FILE:LINE:COL: KEY: MESSAGE, and never keeps a good
// job beside it from running. taskmasterctl push refuses them and writes
// nothing.

// memberFile builds a file whose line 3 is m (its key at 3:3, its value at
// 3:len(key)+7), after a valid cmd.
func memberFile(m string) string { return "{\n  \"cmd\": \"x\",\n  " + m + "\n}" }

// badFile is an invalid job file and the error lines it must get, with
// %F standing for the file's path.
type badFile struct {
	name, body string
	want       []string
}

// badFiles are the invalid files, with the exact errors docs/jobs.md gives
// where it gives them, else the messages the parser's own tests check.
var badFiles = []badFile{
	// docs/jobs.md, Errors: every example.
	{"syntax", "{\n  \"cmd\": \"server\",\n  \"autostart\": false,\n}",
		[]string{"%F:4:1: invalid JSON: a comma before '}' (JSON allows no trailing comma)"}},
	{"missing-comma", "{\n  \"cmd\": \"server\"\n  \"autostart\": false\n}",
		[]string{`%F:3:3: invalid JSON: missing ',' before "autostart" (after the value of "cmd")`}},
	{"comment", "{\n  // the web server\n  \"cmd\": \"server\"\n}",
		[]string{"%F:2:3: invalid JSON: JSON has no comments: remove this // comment"}},
	{"unclosed", "{\n  \"cmd\": \"server\",\n  \"env\": {\"PORT\": \"8080\"\n}",
		[]string{"%F:4:2: unexpected end of file: the object that starts at 1:1 is not closed ('}' is missing)"}},

	// Other JSON syntax errors (jobs/jobfile TestSyntaxErrors has them all).
	{"single-quotes", memberFile(`"stdout": 'discard'`),
		[]string{`%F:3:13: invalid JSON: strings are written in double quotes: 'discard' should be "discard"`}},
	{"python-true", memberFile(`"autostart": True`), []string{"%F:3:16: invalid JSON: True is not a JSON value: write true (in lower case)"}},
	{"several", "{\n  \"nmprocs\": 2,\n  \"umask\": 18,\n  \"stopsignal\": \"SIGFOO\"\n}", []string{
		`%F:2:3: "nmprocs": unknown key (did you mean "numprocs"?)`,
		`%F:3:12: umask: the number 18 is not octal (it has the digit 8 or 9); write the umask as an octal string like "022"`,
		`%F:4:17: stopsignal: unknown signal "SIGFOO" (expected a name like "TERM" or "SIGUSR1", "RTMIN+3", or a number 1-31/34-64)`,
		`%F: cmd: required key is missing`,
	}},
	{"negative-numprocs", "{\n  \"cmd\": \"server\",\n  \"numprocs\": -1\n}",
		[]string{"%F:3:15: numprocs: expected an integer from 1 to 1024, got -1"}},
	{"shell-feature", "{\n  \"cmd\": \"server --log $HOME/server.log\"\n}",
		[]string{`%F:2:10: cmd: unquoted '$' at character 14: cmd is not run by a shell, and variable and command substitution need a shell; quote or escape it to pass it as is, or use ["sh", "-c", "..."]`}},
	{"alias-mix", "{\n  \"cmd\": \"server\",\n  \"numprocs\": 2,\n  \"procNr\": 3\n}",
		[]string{`%F:4:3: procNr: "numprocs" (at 3:3) and "procNr" both set numprocs; keep only one`}},
	{"forward-hup", "{\n  \"cmd\": \"server\",\n  \"forwardsignals\": [\"USR2\", \"HUP\"]\n}",
		[]string{"%F:3:21: forwardsignals: element 2: SIGHUP cannot be forwarded: taskmasterd reloads the job directory on it"}},

	// One problem per file.
	{"unknown-key", memberFile(`"autsotart": true`), []string{`%F:3:3: "autsotart": unknown key (did you mean "autostart"?)`}},
	{"type-autostart", memberFile(`"autostart": "yes"`), []string{`%F:3:16: autostart: expected true or false, got "yes"`}},
	{"type-numprocs", memberFile(`"numprocs": "2"`), []string{`%F:3:15: numprocs: expected an integer from 1 to 1024, got "2"`}},
	{"type-env", memberFile(`"env": {"PORT": 80}`), []string{`%F:3:10: env: variable PORT: expected a string value, got 80 (write numbers and booleans as strings)`}},
	{"type-cmd", "{\n  \"cmd\": 42\n}", []string{`%F:2:10: cmd: expected a command line (string) or a non-empty array of strings, got 42`}},
	{"type-stoptime", memberFile(`"stoptime": "5s"`), []string{`%F:3:15: stoptime: expected a number of seconds from 0 to 86400 (fractions allowed, like 0.5), got "5s"`}},
	{"null", memberFile(`"numprocs": null`), []string{`%F:3:15: numprocs: expected an integer from 1 to 1024, got null`}},
	{"zero-numprocs", memberFile(`"numprocs": 0`), []string{`%F:3:15: numprocs: expected an integer from 1 to 1024, got 0`}},
	{"bad-signal", memberFile(`"stopsignal": "SIGFOO"`), []string{`%F:3:17: stopsignal: unknown signal "SIGFOO" (expected a name like "TERM" or "SIGUSR1", "RTMIN+3", or a number 1-31/34-64)`}},
	{"forward-term", memberFile(`"forwardsignals": ["sigterm"]`), []string{`%F:3:21: forwardsignals: element 1: SIGTERM cannot be forwarded: taskmasterd shuts down (stopping every job) on it`}},
	{"bad-umask", memberFile(`"umask": "999"`), []string{`%F:3:12: umask: expected an octal string like "022" (digits 0 to 7), got "999"`}},
	{"umask-89", memberFile(`"umask": 79`), []string{`%F:3:12: umask: the number 79 is not octal (it has the digit 8 or 9); write the umask as an octal string like "022"`}},
	{"exitcode-256", memberFile(`"exitcodes": 256`), []string{`%F:3:16: exitcodes: expected an integer from 0 to 255, got 256`}},
	{"negative-starttime", memberFile(`"starttime": -1`), []string{`%F:3:16: starttime: expected a number of seconds from 0 to 86400 (fractions allowed, like 0.5), got -1`}},
	{"duplicate", memberFile(`"numprocs": 2, "numprocs": 3`), []string{`%F:3:18: numprocs: duplicate key (first set at 3:3)`}},
	{"missing-cmd", "{\n  \"numprocs\": 2\n}", []string{`%F: cmd: required key is missing`}},
	{"unterminated", "{\n  \"cmd\": \"echo 'abc\"\n}", []string{`%F:2:10: cmd: unterminated single quote (the ' at character 6 is never closed)`}},
	{"unknown-user", memberFile(`"user": "no-such-user-xyz"`), []string{`%F:3:11: user: unknown user "no-such-user-xyz" (no such name in /etc/passwd)`}},
	{"empty", " \n", []string{`%F: the file is empty (a job file is a JSON object with at least "cmd")`}},

	// Problems across files: the file, no position (docs/jobs.md, Errors).
	{"cyc-web", `{"cmd": "x", "depends_on": ["cyc-db"]}`, []string{"%F: depends_on: cycle cyc-web -> cyc-db -> cyc-web"}},
	{"cyc-db", `{"cmd": "x", "depends_on": ["cyc-web"]}`, []string{"%F: depends_on: cycle cyc-db -> cyc-web -> cyc-db"}},
	{"needs-redis", `{"cmd": "x", "depends_on": ["redis"]}`, []string{`%F: depends_on: unknown job "redis" (no redis.tm.json was found)`}},

	// Bad file names.
	{"bad name", `{"cmd": "x"}`, []string{`%F: invalid job name "bad name": use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`}},
	{"ALL", `{"cmd": "x"}`, []string{`%F: invalid job name "ALL": "all" is reserved (taskmasterctl uses it for every job)`}},
}

// wantError is the error of f in the jobs directory dir.
func (f badFile) wantError(dir string) string {
	path := filepath.Join(dir, f.name+".tm.json")
	return strings.ReplaceAll(strings.Join(f.want, "\n"), "%F", path)
}

func TestJobsInvalidFilesInDirectory(t *testing.T) {
	t.Parallel()
	jobs := map[string]string{"good": sleeperJob()}
	for _, f := range badFiles {
		jobs[f.name] = f.body
	}
	// A job that depends on an invalid one is not run either.
	jobs["needs-syntax"] = `{"cmd": "x", "depends_on": ["syntax"]}`
	d := startJobsDaemon(t, daemonOpts{mode: asPID1, jobs: jobs})
	// A directory with a job file's name.
	require.NoError(t, os.Mkdir(filepath.Join(d.jobs, "dir.tm.json"), 0o755))
	d.signal(syscall.SIGHUP)

	d.awaitRunning("good", 1)
	all := d.awaitStatusWith("dir", 10*time.Second)
	check := func(name, want string) {
		t.Helper()
		st, ok := all[name]
		require.True(t, ok, "%s is not in the status", name)
		require.Equal(t, "INVALID", st.State, name)
		require.Empty(t, st.Processes, name)
		require.Equal(t, want, st.Error, name)
	}
	for _, f := range badFiles {
		check(f.name, f.wantError(d.jobs))
	}
	check("needs-syntax", filepath.Join(d.jobs, "needs-syntax.tm.json")+`: depends_on: job "syntax" has errors (in `+
		filepath.Join(d.jobs, "syntax.tm.json")+"), so this job could never start")
	check("dir", filepath.Join(d.jobs, "dir.tm.json")+": is a directory, not a job file")
	require.Len(t, all, len(badFiles)+3, "jobs in the status")
}

// awaitStatusWith waits until the status lists job, and returns it all.
func (d *daemon) awaitStatusWith(job string, timeout time.Duration) map[string]jobStatus {
	d.t.Helper()
	var all map[string]jobStatus
	eventually(d.t, timeout, func() bool {
		all = d.status()
		_, ok := all[job]
		return ok
	}, "%s never listed", job)
	return all
}

func TestJobsPushRefusesInvalidFiles(t *testing.T) {
	t.Parallel()
	d := startJobsDaemon(t, daemonOpts{mode: asPID1, jobs: map[string]string{
		"good": sleeperJob(),
	}})
	pid := d.awaitRunning("good", 1)[0]
	goodPath := filepath.Join(d.jobs, "good.tm.json")
	goodBytes, err := os.ReadFile(goodPath)
	require.NoError(t, err)
	src := t.TempDir()

	pushes := append([]badFile{
		// A bad version of a running job: the running one stays.
		{"good", "{\n  \"cmd\": \"sleep 1000\",\n  \"numprocs\": -1\n}", []string{"%F:3:15: numprocs: expected an integer from 1 to 1024, got -1"}},
	}, badFiles...)
	for _, f := range pushes {
		switch {
		case strings.HasPrefix(f.name, "cyc-"), f.name == "needs-redis": // TestJobsPushDependsOnErrors
			continue
		case f.name == "empty": // taskmasterctl refuses an empty file itself
			continue
		case f.name == "bad name" || strings.EqualFold(f.name, "all"): // below
			continue
		}
		file := filepath.Join(src, f.name+".tm.json")
		require.NoError(t, os.WriteFile(file, []byte(f.body), 0o644))
		stdout, stderr, code := d.ctl("push", file)
		assert.Equal(t, 1, code, "push %s: %s%s", f.name, stdout, stderr)
		assert.Equal(t, "taskmasterctl: "+f.name+": "+f.wantError(d.jobs)+"\n", stderr, "push %s", f.name)
		if f.name != "good" {
			_, err := os.Stat(filepath.Join(d.jobs, f.name+".tm.json"))
			assert.ErrorIs(t, err, os.ErrNotExist, "push %s wrote the invalid file", f.name)
			_, listed := d.status()[f.name]
			assert.False(t, listed, "push %s: the refused job is in the status", f.name)
		}
	}
	// Names push refuses whatever the file.
	file := filepath.Join(src, "x.tm.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"cmd": "x"}`), 0o644))
	for _, name := range []string{"bad name", "all", "../escape", ".hidden"} {
		stdout, stderr, code := d.ctl("push", file, name)
		assert.Equal(t, 1, code, "push as %q: %s%s", name, stdout, stderr)
		assert.Contains(t, stderr, "invalid job name", name)
	}

	entries, err := os.ReadDir(d.jobs)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, []string{"good.tm.json"}, names, "files left in the jobs directory")
	_, err = os.Stat(filepath.Join(filepath.Dir(d.jobs), "escape.tm.json"))
	require.ErrorIs(t, err, os.ErrNotExist)
	after, err := os.ReadFile(goodPath)
	require.NoError(t, err)
	require.Equal(t, string(goodBytes), string(after), "the refused push changed good's file")
	st := d.status()["good"]
	require.Empty(t, st.Error)
	require.Equal(t, []int{pid}, statusPids(st), "the refused push restarted good")
}

// push validates depends_on "exactly as a reload would" (docs/protocol.md):
// its errors are the ones a reload reports for the same file, with the
// file's path (docs/jobs.md, Errors: "Problems found across files
// (depends_on) carry the file but no position").
func TestJobsPushDependsOnErrors(t *testing.T) {
	t.Parallel()
	d := startJobsDaemon(t, daemonOpts{mode: asPID1, jobs: map[string]string{
		// Waits for ring-b, which a push below would make a cycle.
		"ring-a": `{"cmd": "x", "depends_on": ["ring-b"]}`,
		"broken": "{",
	}})
	d.awaitStatusWith("broken", 10*time.Second)
	src := t.TempDir()
	pushes := []badFile{
		{"ring-b", `{"cmd": "x", "depends_on": ["ring-a"]}`, []string{"%F: depends_on: cycle ring-b -> ring-a -> ring-b"}},
		{"needs-redis", `{"cmd": "x", "depends_on": ["redis"]}`, []string{`%F: depends_on: unknown job "redis" (no redis.tm.json was found)`}},
		// broken.tm.json exists; it is invalid.
		{"needs-broken", `{"cmd": "x", "depends_on": ["broken"]}`, []string{`%F: depends_on: job "broken" has errors (in ` +
			filepath.Join(d.jobs, "broken.tm.json") + `), so this job could never start`}},
	}
	for _, f := range pushes {
		file := filepath.Join(src, f.name+".tm.json")
		require.NoError(t, os.WriteFile(file, []byte(f.body), 0o644))
		stdout, stderr, code := d.ctl("push", file)
		assert.Equal(t, 1, code, "push %s: %s%s", f.name, stdout, stderr)
		assert.Equal(t, "taskmasterctl: "+f.name+": "+f.wantError(d.jobs)+"\n", stderr, "push %s", f.name)
		_, err := os.Stat(filepath.Join(d.jobs, f.name+".tm.json"))
		assert.ErrorIs(t, err, os.ErrNotExist, "push %s wrote the invalid file", f.name)
	}
}
