package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Each job file setting of docs/jobs.md, observed on the processes that
// taskmasterd starts: file modes, working directories, environments, ids,
// output, instances.

// rawJSON is a job file value written as is by jobFile.
type rawJSON string

func (r rawJSON) String() string { return string(r) }

// oneShotSettings are the settings of a job run once: started at once, never
// restarted.
var oneShotSettings = []any{"autorestart", false, "starttime", 0}

// oneShot builds a job file that runs argv once, with more settings.
func oneShot(argv []string, kv ...any) string {
	return jobFile(append(append([]any{"cmd", argv}, oneShotSettings...), kv...)...)
}

func TestJobsUmask(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		out := t.TempDir()
		inherited := umaskOf(t, os.Getpid()) // taskmasterd gets the test's
		create := func(name string) []string {
			return shArgv(fmt.Sprintf("umask > %[1]s/%[2]s.umask; : > %[1]s/%[2]s.file", out, name))
		}
		tests := []struct {
			name  string
			umask any // nil: no umask key
			want  int
		}{
			{"string", "027", 0o027},
			{"prefixed", "0o22", 0o022},
			{"number", rawJSON("77"), 0o077},
			{"zero", "0", 0},
			{"inherited", nil, inherited},
			{"empty", "", inherited},
		}
		jobs := map[string]string{}
		for _, tt := range tests {
			var kv []any
			if tt.umask != nil {
				kv = []any{"umask", tt.umask}
			}
			jobs[tt.name] = oneShot(create(tt.name), kv...)
		}
		d := startJobsDaemon(t, daemonOpts{mode: m, jobs: jobs})
		for _, tt := range tests {
			awaitFileContent(t, filepath.Join(out, tt.name+".umask"), 10*time.Second)
			eventually(t, 10*time.Second, func() bool {
				_, err := os.Stat(filepath.Join(out, tt.name+".file"))
				return err == nil
			}, "%s: the job created no file", tt.name)
			require.Equal(t, fmt.Sprintf("%04o", tt.want), readLines(filepath.Join(out, tt.name+".umask"))[0],
				"%s: the umask the job's shell reports", tt.name)
			require.Equal(t, os.FileMode(0o666&^tt.want), permOf(t, filepath.Join(out, tt.name+".file")),
				"%s: mode of a file created with 0666", tt.name)
		}
		require.Equal(t, inherited, umaskOf(t, d.pid), "taskmasterd's own umask changed")
	})
}

func TestJobsWorkingDir(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		out := t.TempDir()
		abs, abs2 := t.TempDir(), t.TempDir()
		cwd, err := os.Getwd()
		require.NoError(t, err)
		script := func(name string) []string {
			return shArgv(fmt.Sprintf("pwd -P > %[1]s/%[2]s.pwd; echo in-%[2]s > created; echo out-%[2]s", out, name))
		}
		d := startJobsDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"abs": oneShot(script("abs"), "workingdir", abs, "stdout", "abs.out"),
			// Relative to the directory of the job file, cleaned: the
			// parent of the jobs directory (x need not exist).
			"rel": oneShot(script("rel"), "workingdir", "x/../..", "stdout", "logs/../rel.out"),
			// No workingdir: taskmasterd's own; a relative stdout is then
			// taken from the job file's directory.
			"none": oneShot(shArgv(fmt.Sprintf("pwd -P > %s/none.pwd; pwd -P", out)), "stdout", "none.out"),
			"dir":  oneShot(script("dir"), "dir", abs2+"/./sub/.."), // the alias
		}})
		parent := filepath.Dir(d.jobs)
		want := map[string]string{"abs": abs, "rel": parent, "none": cwd, "dir": abs2}
		for name, dir := range want {
			resolved, err := filepath.EvalSymlinks(dir)
			require.NoError(t, err)
			got := awaitFileContent(t, filepath.Join(out, name+".pwd"), 10*time.Second)
			require.Equal(t, resolved+"\n", got, "%s: working directory", name)
		}
		require.Equal(t, "in-abs\n", awaitFileContent(t, filepath.Join(abs, "created"), 10*time.Second))
		require.Equal(t, "in-rel\n", awaitFileContent(t, filepath.Join(parent, "created"), 10*time.Second))
		require.Equal(t, "in-dir\n", awaitFileContent(t, filepath.Join(abs2, "created"), 10*time.Second))
		// stdout files: relative to workingdir when there is one.
		require.Equal(t, "out-abs\n", awaitFileContent(t, filepath.Join(abs, "abs.out"), 10*time.Second))
		require.Equal(t, "out-rel\n", awaitFileContent(t, filepath.Join(parent, "rel.out"), 10*time.Second))
		realCwd, err := filepath.EvalSymlinks(cwd)
		require.NoError(t, err)
		require.Equal(t, realCwd+"\n", awaitFileContent(t, filepath.Join(d.jobs, "none.out"), 10*time.Second))
	})
}

// The environment is taskmasterd's, with the job's env over it, the job's
// name and instance, and never taskmasterd's control token.
func TestJobsEnv(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		out := t.TempDir()
		jobEnv, err := json.Marshal(map[string]string{
			"OUT": out, "PATH": "/usr/local/bin:/usr/bin:/bin", "FOO": "from-job", "EMPTY": "", "LITERAL": "$HOME/x",
		})
		require.NoError(t, err)
		d := startDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"envjob": oneShot(shArgv(`env > "$OUT/$TASKMASTER_INSTANCE.env"`), "numprocs", 2, "env", rawJSON(jobEnv)),
			"plain":  oneShot(shArgv("env > " + out + "/plain.env")),
			// The original Taskmaster's list form.
			"listed": oneShot(shArgv("env > "+out+"/listed.env"), "env", rawJSON(`[{"name": "TEST", "value": "valueHere"}]`)),
		}, env: []string{"TASKMASTER_TOKEN=s3cret-token", "TASKMASTER_AGENT_SECRET=s3cret-agent", "TM_E2E_INHERITED=daemon", "FOO=from-daemon"}})

		for _, inst := range []string{"envjob:0", "envjob:1"} {
			env := parseEnv(awaitFileContent(t, filepath.Join(out, inst+".env"), 10*time.Second))
			require.Equal(t, "envjob", env["TASKMASTER_JOB"], inst)
			require.Equal(t, inst, env["TASKMASTER_INSTANCE"], inst)
			require.Equal(t, "/usr/local/bin:/usr/bin:/bin", env["PATH"], "%s: the job's PATH wins", inst)
			require.Equal(t, "from-job", env["FOO"], "%s: the job's FOO wins", inst)
			require.Equal(t, "daemon", env["TM_E2E_INHERITED"], "%s: taskmasterd's variables are inherited", inst)
			require.Equal(t, "$HOME/x", env["LITERAL"], "%s: values are not expanded", inst)
			require.Contains(t, env, "EMPTY", inst)
			require.Equal(t, "", env["EMPTY"], inst)
			require.NotContains(t, env, "TASKMASTER_TOKEN", "%s: the control token leaked to a job", inst)
			require.NotContains(t, env, "TASKMASTER_AGENT_SECRET", "%s: the fleet agent's secret leaked to a job", inst)
		}
		plain := parseEnv(awaitFileContent(t, filepath.Join(out, "plain.env"), 10*time.Second))
		require.Equal(t, "/usr/bin:/bin", plain["PATH"])
		require.Equal(t, "from-daemon", plain["FOO"])
		require.Equal(t, "daemon", plain["TM_E2E_INHERITED"])
		require.Equal(t, "plain", plain["TASKMASTER_JOB"])
		require.Equal(t, "plain:0", plain["TASKMASTER_INSTANCE"])
		require.NotContains(t, plain, "TASKMASTER_TOKEN", "the control token leaked to a job")
		require.NotContains(t, plain, "TASKMASTER_AGENT_SECRET", "the fleet agent's secret leaked to a job")
		listed := parseEnv(awaitFileContent(t, filepath.Join(out, "listed.env"), 10*time.Second))
		require.Equal(t, "valueHere", listed["TEST"])

		d.signal(syscall.SIGTERM)
		require.Equal(t, 0, d.wait(10*time.Second))
	})
}

// expectedIDs is what `id -u`, `id -g` and `id -G` print for a job run as
// uid with primary group gid, as docs/jobs.md (user) describes it: the
// groups of uid's passwd entry, if it has one, with gid in place of its
// primary group unless gid is that group (primaryFromPasswd).
func expectedIDs(t *testing.T, uid, gid int, primaryFromPasswd bool) string {
	t.Helper()
	groups := []int{gid}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		ids, err := u.GroupIds()
		require.NoError(t, err)
		pw, _ := strconv.Atoi(u.Gid)
		for _, s := range ids {
			g, _ := strconv.Atoi(s)
			if g != pw || primaryFromPasswd {
				groups = append(groups, g)
			}
		}
	}
	slices.Sort(groups)
	groups = slices.Compact(groups)
	var gs []string
	for _, g := range groups {
		gs = append(gs, strconv.Itoa(g))
	}
	return fmt.Sprintf("%d %d %s", uid, gid, strings.Join(gs, " "))
}

func TestJobsUser(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	require.NoError(t, err, "the tests need the nobody user")
	nobodyUID, _ := strconv.Atoi(nobody.Uid)
	nobodyGID, _ := strconv.Atoi(nobody.Gid)
	forEachMode(t, func(t *testing.T, m mode) {
		// Log files of a job with a user are opened as that user.
		out := worldWritableDir(t)
		shared := worldWritableDir(t)
		ids := shArgv(`echo "$(id -u) $(id -g) $(id -G)"`)
		tests := []struct {
			name string
			user any
			want string
		}{
			{"byname", "nobody", expectedIDs(t, nobodyUID, nobodyGID, true)},
			{"byid", rawJSON(strconv.Itoa(nobodyUID)), expectedIDs(t, nobodyUID, nobodyGID, true)},
			{"uidgid", "1000:1000", expectedIDs(t, 1000, 1000, false)},
			{"nopasswd", "4242:4343", "4242 4343 4343"},
			{"runas", "4242", "4242 4242 4242"},
		}
		jobs := map[string]string{
			// The umask helper runs after the switch to the user.
			"masked": oneShot(shArgv(": > "+shared+"/masked"), "user", "nobody", "umask", "077"),
			// USER, LOGNAME and HOME come from the passwd entry.
			"identity": oneShot(shArgv(`echo "$USER $LOGNAME $HOME"`), "user", "nobody", "stdout", out+"/identity.out"),
		}
		for _, tt := range tests {
			key := "user"
			if tt.name == "runas" {
				key = "runas"
			}
			jobs[tt.name] = oneShot(ids, key, tt.user, "stdout", out+"/"+tt.name+".out")
		}
		startJobsDaemon(t, daemonOpts{mode: m, jobs: jobs})
		for _, tt := range tests {
			got := awaitFileContent(t, filepath.Join(out, tt.name+".out"), 10*time.Second)
			require.Equal(t, tt.want+"\n", got, "%s: uid, gid and groups of a job run as %v", tt.name, tt.user)
			require.NotContains(t, strings.Fields(got)[2:], "0", "%s: the job kept root's groups", tt.name)
		}
		require.Equal(t, fmt.Sprintf("nobody nobody %s\n", nobody.HomeDir),
			awaitFileContent(t, filepath.Join(out, "identity.out"), 10*time.Second))

		path := filepath.Join(shared, "masked")
		eventually(t, 10*time.Second, func() bool { _, err := os.Stat(path); return err == nil },
			"the job run as nobody with a umask created nothing")
		fi, err := os.Stat(path)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		require.Equal(t, uint32(nobodyUID), fi.Sys().(*syscall.Stat_t).Uid)
	})
}

func TestJobsOutput(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		out := t.TempDir()
		outFile, errFile := filepath.Join(out, "files.out"), filepath.Join(out, "files.err")
		require.NoError(t, os.WriteFile(outFile, []byte("before\n"), 0o644))
		d := startJobsDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"files": oneShot(shArgv(`echo "out $TASKMASTER_INSTANCE"; echo "err $TASKMASTER_INSTANCE" >&2`),
				"stdout", outFile, "stderr", errFile),
			"quiet": oneShot(shArgv("echo QUIET-OUT; echo QUIET-ERR >&2"), "stdout", "discard", "stderr", "discard"),
			"console": oneShot(shArgv(`echo "hello $TASKMASTER_INSTANCE"; echo "oops $TASKMASTER_INSTANCE" >&2; printf "no newline"`),
				"numprocs", 2),
		}})

		// Files are appended to, across runs.
		awaitLines(t, outFile, 2, 10*time.Second)
		d.awaitStates("files", 10*time.Second, "EXITED")
		stdout, stderr, code := d.ctl("start", "files")
		require.Equal(t, 0, code, "start files: %s%s", stdout, stderr)
		eventually(t, 10*time.Second, func() bool {
			return slices.Equal(readLines(outFile), []string{"before", "out files:0", "out files:0"}) &&
				slices.Equal(readLines(errFile), []string{"err files:0", "err files:0"})
		}, "after two runs: stdout file %q, stderr file %q", readLines(outFile), readLines(errFile))

		// The console: each line on taskmasterd's stdout or stderr, with the
		// instance's prefix; a last line without a newline gets one.
		for _, inst := range []string{"console:0", "console:1"} {
			for _, line := range []string{inst + " | hello " + inst, inst + " | no newline"} {
				eventually(t, 10*time.Second, func() bool { return consoleHas(d.stdout, line) },
					"taskmasterd's stdout lacks %q:\n%s", line, d.stdout.String())
			}
			line := inst + " | oops " + inst
			eventually(t, 10*time.Second, func() bool { return consoleHas(d.stderr, line) },
				"taskmasterd's stderr lacks %q", line)
			require.Equal(t, 1, countConsoleLines(d.stdout, inst+" | hello "+inst), "a line was printed twice")
		}

		// Discarded output and file output appear nowhere on the console.
		d.awaitStates("quiet", 10*time.Second, "EXITED")
		for _, s := range []string{"QUIET-OUT", "QUIET-ERR", "out files:0", "err files:0"} {
			require.NotContains(t, d.stdout.String(), s)
			require.NotContains(t, d.stderr.String(), s)
		}
	})
}

func TestJobsNumprocs(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		out := filepath.Join(t.TempDir(), "instances")
		d := startJobsDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"many": jobFile("cmd", shArgv(`echo "$TASKMASTER_INSTANCE $$" >> `+out+`; exec sleep 1000`),
				"numprocs", 4, "starttime", 0),
		}})
		st := d.awaitJob("many", 15*time.Second, func(st jobStatus) bool { return allRunning(st, 4) }, "4 RUNNING")
		lines := awaitLines(t, out, 4, 10*time.Second)
		byInstance := map[string]int{}
		for _, line := range lines {
			inst, pid, _ := strings.Cut(line, " ")
			require.NotContains(t, byInstance, inst, "two processes say they are %s", inst)
			byInstance[inst], _ = strconv.Atoi(pid)
		}
		seen := map[int]bool{}
		for i, p := range st.Processes {
			name := fmt.Sprintf("many:%d", i)
			require.Equal(t, name, p.Name)
			require.False(t, seen[p.Pid], "pid %d twice", p.Pid)
			seen[p.Pid] = true
			require.Equal(t, p.Pid, byInstance[name], "the process of %s has TASKMASTER_INSTANCE=%s", name, name)
		}
		for _, pid := range d.hostPids(statusPids(st)) {
			require.True(t, alive(pid))
		}
	})
}
