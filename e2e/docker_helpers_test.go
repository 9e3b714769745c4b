package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The Docker tests run the images built from the repository's Dockerfile
// and deploy/demo/Dockerfile against the real Docker Engine. Everything they
// create carries the label dockerLabelKey=<run id> and a name or tag unique
// to this test process; TestDocker's cleanup removes it all, failed or not.

const (
	dockerLabelKey    = "taskmaster.e2e.run"
	dockerCmdTimeout  = 2 * time.Minute // bound on any one docker command
	dockerRequireEnv  = "TASKMASTER_REQUIRE_DOCKER"
	dockerStopTimeout = 10 * time.Second // Docker's default grace period
)

// dockerEnv is what the Docker tests share: this run's id and images.
type dockerEnv struct {
	run   string // unique to this test process; lower case, for compose
	label string // dockerLabelKey=run
	repo  string // the repository root
	image string // built from ./Dockerfile
	demo  string // built from deploy/demo/Dockerfile on top of image
	test  string // demo plus /testprog

	mu       sync.Mutex
	projects []string // compose projects started
}

// dockerSkipOrFail skips t loudly when no Docker Engine answers, or fails
// it when TASKMASTER_REQUIRE_DOCKER=1 (CI).
func dockerSkipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(dockerRequireEnv) == "1" {
		t.Fatalf("%s (%s=1: Docker is required)", msg, dockerRequireEnv)
	}
	dockerShout("SKIPPED %s: %s\n*** The Docker tests did not run; set %s=1 to make this a failure.",
		t.Name(), msg, dockerRequireEnv)
	t.Skipf("%s; set %s=1 to make this a failure", msg, dockerRequireEnv)
}

// dockerShout makes a line seen even where t.Log is not: `go test ./...`
// shows a passing package's output only with -v, so the line also goes
// to the terminal, when there is one.
func dockerShout(format string, args ...any) {
	line := "\n*** " + fmt.Sprintf(format, args...) + "\n\n"
	fmt.Fprint(os.Stderr, line)
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		fmt.Fprint(tty, line)
		tty.Close()
	}
}

// requireDocker skips or fails t unless the docker CLI and an engine answer.
func requireDocker(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		dockerSkipOrFail(t, "no docker CLI in PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		dockerSkipOrFail(t, "no Docker Engine answers (docker version: %v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Logf("Docker Engine %s", strings.TrimSpace(string(out)))
}

// dockerResult is how a docker command ended.
type dockerResult struct {
	stdout, stderr string
	code           int
}

// dockerTry runs the docker CLI and returns what it printed and its exit
// code. Only a failure to run it at all fails t.
func dockerTry(t *testing.T, env []string, args ...string) dockerResult {
	t.Helper()
	return runTool(t, env, append([]string{"docker"}, args...)...)
}

// runTool runs argv with env added to the test's environment and returns
// what it printed and its exit code. Only a failure to run it at all, or no
// end within dockerCmdTimeout, fails t.
func runTool(t *testing.T, env []string, argv ...string) dockerResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dockerCmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s: no end after %v", strings.Join(argv, " "), dockerCmdTimeout)
	case errors.As(err, &exit):
		return dockerResult{out.String(), errb.String(), exit.ExitCode()}
	case err != nil:
		t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	return dockerResult{out.String(), errb.String(), 0}
}

// docker runs the docker CLI, requires it to succeed, and returns its
// output without the trailing newline.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	r := dockerTry(t, nil, args...)
	require.Zero(t, r.code, "docker %s:\n%s%s", strings.Join(args, " "), r.stdout, r.stderr)
	return strings.TrimSpace(r.stdout)
}

// dockerQuiet runs a cleanup command: failures are logged, not fatal.
func dockerQuiet(t *testing.T, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), dockerCmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		t.Logf("cleanup: docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// newDockerEnv builds the images for this run and registers their removal,
// with everything else labelled with the run id, in t's cleanup.
func newDockerEnv(t *testing.T) *dockerEnv {
	t.Helper()
	repo, err := filepath.Abs("..")
	require.NoError(t, err)
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	run := fmt.Sprintf("tme2e%d%s", os.Getpid(), hex.EncodeToString(id))
	e := &dockerEnv{
		run:   run,
		label: dockerLabelKey + "=" + run,
		repo:  repo,
		image: "taskmaster-e2e:" + run,
		demo:  "taskmaster-e2e-demo:" + run,
		test:  "taskmaster-e2e-test:" + run,
	}
	t.Cleanup(e.cleanup(t))

	// The build context has the layout of the repository, with binaries
	// built as `make build` builds them (stripped), so that the image size
	// checked is the size users get.
	ctxDir := t.TempDir()
	for name, pkg := range map[string]string{"taskmasterd": "../cmd/taskmasterd", "taskmasterctl": "../cmd/taskmasterctl"} {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(ctxDir, "bin", name), pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go build %s: %s", pkg, out)
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Fatalf("the demo image needs Debian's static busybox at /bin/busybox (make deps installs busybox-static): %v", err)
	}
	copyFile(t, "/bin/busybox", filepath.Join(ctxDir, "bin", "busybox"), 0o755)
	copyFile(t, filepath.Join(repo, "Dockerfile"), filepath.Join(ctxDir, "Dockerfile"), 0o644)
	copyFile(t, filepath.Join(repo, "deploy/demo/Dockerfile"), filepath.Join(ctxDir, "deploy/demo/Dockerfile"), 0o644)
	jobs, err := filepath.Glob(filepath.Join(repo, "deploy/demo/jobs/*.tm.json"))
	require.NoError(t, err)
	for _, j := range jobs {
		copyFile(t, j, filepath.Join(ctxDir, "deploy/demo/jobs", filepath.Base(j)), 0o644)
	}
	e.build(t, ctxDir, "Dockerfile", e.image)
	e.build(t, ctxDir, "deploy/demo/Dockerfile", e.demo, "--build-arg", "BASE="+e.image)

	testCtx := t.TempDir()
	copyFile(t, bin.testprog, filepath.Join(testCtx, "testprog"), 0o755)
	dockerfile := "FROM " + e.demo + "\nCOPY testprog /testprog\n"
	require.NoError(t, os.WriteFile(filepath.Join(testCtx, "Dockerfile"), []byte(dockerfile), 0o644))
	e.build(t, testCtx, "Dockerfile", e.test)
	return e
}

func (e *dockerEnv) build(t *testing.T, dir, dockerfile, tag string, args ...string) {
	t.Helper()
	start := time.Now()
	r := dockerTry(t, nil, append([]string{"build", "--force-rm", "-q", "--label", e.label,
		"-f", filepath.Join(dir, dockerfile), "-t", tag}, append(args, dir)...)...)
	require.Zero(t, r.code, "docker build %s:\n%s%s", tag, r.stdout, r.stderr)
	t.Logf("built %s in %v", tag, time.Since(start).Round(time.Millisecond))
}

// cleanup removes what this run left: containers (with their anonymous
// volumes), networks and volumes, its own and its compose projects', then
// the images.
func (e *dockerEnv) cleanup(t *testing.T) func() {
	return func() {
		filters := []string{"label=" + e.label}
		e.mu.Lock()
		for _, p := range e.projects {
			filters = append(filters, "label=com.docker.compose.project="+p)
		}
		e.mu.Unlock()
		for _, f := range filters {
			if ids := strings.Fields(dockerQuiet(t, "ps", "-aq", "--filter", f)); len(ids) > 0 {
				t.Logf("cleanup: removing containers %v left by %s", ids, f)
				dockerQuiet(t, append([]string{"rm", "-fv"}, ids...)...)
			}
		}
		for _, kind := range []string{"network", "volume"} {
			for _, f := range filters {
				if names := strings.Fields(dockerQuiet(t, kind, "ls", "-q", "--filter", f)); len(names) > 0 {
					t.Logf("cleanup: removing %ss %v left by %s", kind, names, f)
					dockerQuiet(t, append([]string{kind, "rm"}, names...)...)
				}
			}
		}
		for _, img := range []string{e.test, e.demo, e.image} {
			if dockerTry(t, nil, "image", "inspect", img).code == 0 {
				dockerQuiet(t, "rmi", img)
			}
		}
	}
}

// composeProject returns a compose project name unique to this run, and
// has the cleanup remove whatever of it is left.
func (e *dockerEnv) composeProject(suffix string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.run + suffix
	e.projects = append(e.projects, p)
	return p
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(to), 0o755))
	require.NoError(t, os.WriteFile(to, data, mode))
}

// dockerContainer is one container of a test.
type dockerContainer struct {
	t    *testing.T
	name string
}

// dockerRunOpts say how to run a container.
type dockerRunOpts struct {
	image   string            // default: the test image
	jobs    map[string]string // job files, written to a host directory bind-mounted at /etc/taskmaster/jobs
	jobsDir string            // that directory (set by runContainer when jobs is given)
	flags   []string          // more docker run flags: -e, -p, --network, -v ...
	args    []string          // arguments to taskmasterd
}

// runContainer starts a detached container and registers its removal.
func (e *dockerEnv) runContainer(t *testing.T, o *dockerRunOpts) *dockerContainer {
	t.Helper()
	c := &dockerContainer{t: t, name: e.uniqueName(t)}
	args := []string{"run", "-d", "--name", c.name, "--label", e.label}
	if o.jobs != nil {
		o.jobsDir = t.TempDir()
		for name, body := range o.jobs {
			writeFileAtomic(t, filepath.Join(o.jobsDir, name+".tm.json"), body)
		}
		args = append(args, "-v", o.jobsDir+":/etc/taskmaster/jobs")
	}
	image := o.image
	if image == "" {
		image = e.test
	}
	args = append(append(append(args, o.flags...), image), o.args...)
	t.Cleanup(func() {
		if t.Failed() {
			r := dockerTry(t, nil, "logs", c.name)
			t.Logf("docker logs %s:\n%s%s", c.name, r.stdout, r.stderr)
		}
		dockerQuiet(t, "rm", "-fv", c.name)
	})
	docker(t, args...)
	return c
}

// uniqueName names a container or network of this run after its test.
func (e *dockerEnv) uniqueName(t *testing.T) string {
	id := make([]byte, 3)
	_, _ = rand.Read(id)
	base := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '-'
	}, t.Name()[strings.LastIndexByte(t.Name(), '/')+1:])
	return e.run + "-" + base + "-" + hex.EncodeToString(id)
}

// exec runs a command in the container.
func (c *dockerContainer) exec(args ...string) dockerResult {
	c.t.Helper()
	return dockerTry(c.t, nil, append([]string{"exec", c.name}, args...)...)
}

// inspect returns a field of docker inspect, as a Go template gives it.
func (c *dockerContainer) inspect(format string) string {
	c.t.Helper()
	return docker(c.t, "inspect", "-f", format, c.name)
}

// status asks taskmasterd in the container for every job's status, through
// docker exec and taskmasterctl.
func (c *dockerContainer) status() map[string]jobStatus {
	c.t.Helper()
	r := c.exec("taskmasterctl", "-json", "status")
	out := map[string]jobStatus{}
	if r.code != 0 {
		return out // not up yet
	}
	var all struct {
		Jobs []jobStatus `json:"jobs"`
	}
	require.NoError(c.t, json.Unmarshal([]byte(r.stdout), &all), "taskmasterctl -json status: %s", r.stdout)
	for _, j := range all.Jobs {
		out[j.Name] = j
	}
	return out
}

// awaitRunning waits until job has n processes, all RUNNING.
func (c *dockerContainer) awaitRunning(job string, n int) {
	c.t.Helper()
	var st jobStatus
	eventually(c.t, 20*time.Second, func() bool {
		st = c.status()[job]
		if len(st.Processes) != n {
			return false
		}
		for _, p := range st.Processes {
			if p.State != "RUNNING" {
				return false
			}
		}
		return true
	}, "job %s: want %d RUNNING processes, have %+v", job, n, &st)
}

// awaitExit waits until the container has stopped and returns its exit code.
func (c *dockerContainer) awaitExit(timeout time.Duration) int {
	c.t.Helper()
	eventually(c.t, timeout, func() bool { return c.inspect("{{.State.Running}}") == "false" },
		"container %s still runs", c.name)
	code, err := strconv.Atoi(c.inspect("{{.State.ExitCode}}"))
	require.NoError(c.t, err)
	return code
}

// stop runs docker stop with Docker's default grace period and returns how
// long it took.
func (c *dockerContainer) stop() time.Duration {
	c.t.Helper()
	start := time.Now()
	docker(c.t, "stop", c.name)
	return time.Since(start)
}

// awaitRecord waits until the record file at path (a bind-mounted host file
// written by testprog in the container) shows want processes ready.
func awaitRecord(t *testing.T, path string, want int) recorded {
	t.Helper()
	var r recorded
	eventually(t, 20*time.Second, func() bool {
		r = readRecord(path)
		return len(r.pids) == want
	}, "%s: want %d processes ready, have %+v", path, want, r)
	return r
}
