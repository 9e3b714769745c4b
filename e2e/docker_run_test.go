package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDocker runs taskmasterd in Docker containers, built from the
// repository's Dockerfiles, against the real engine. Its subtests share the
// images, which it builds first and removes at the end, with every
// container, network and volume the subtests made, whether they passed or
// not. Without an engine it skips (fails with TASKMASTER_REQUIRE_DOCKER=1).
func TestDocker(t *testing.T) {
	requireDocker(t)
	e := newDockerEnv(t)
	// Swarm first, and alone: leaving a swarm breaks the embedded DNS of
	// every bridge network that exists at that moment (moby/moby#45144;
	// seen in CI as a compose agent that could no longer resolve its
	// manager). Networks made afterwards resolve again.
	t.Run("Swarm", func(t *testing.T) { testDockerSwarm(t, e) })
	for _, tc := range []struct {
		name string
		test func(*testing.T, *dockerEnv)
	}{
		{"Image", testDockerImage},
		{"StatusAndControlPort", testDockerControlPort},
		{"StopIsGraceful", testDockerStopGraceful},
		{"StopKillsWhatIgnoresTERM", testDockerStopStubborn},
		{"HUPReloads", testDockerHUP},
		{"OrphanStormIsReaped", testDockerOrphanStorm},
		{"CriticalJobEndsContainer", testDockerCritical},
		{"SingleCommand", testDockerSingleCommand},
		{"SingleCommandOnATerminal", testDockerSingleCommandOnATerminal},
		{"BindMountedJobEdits", testDockerBindMountEdits},
		{"Healthcheck", testDockerHealthcheck},
		{"NotifyInScratch", testDockerNotifyInScratch},
		{"Compose", testDockerCompose},
		{"FleetFaults", testDockerFleetFaults},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, e)
		})
	}
}

// The image is small, runs, and says what the Dockerfile says.
func testDockerImage(t *testing.T, e *dockerEnv) {
	size, err := strconv.ParseInt(docker(t, "image", "inspect", "-f", "{{.Size}}", e.image), 10, 64)
	require.NoError(t, err)
	t.Logf("%s: %.1f MB", e.image, float64(size)/1e6)
	require.Less(t, size, int64(15e6), "the image must stay under 15 MB")

	cfg := docker(t, "image", "inspect", "-f",
		`{{json .Config.Entrypoint}} {{json .Config.ExposedPorts}} {{.Config.StopSignal}} {{json .Config.Volumes}} {{json .Config.Healthcheck.Test}}`, e.image)
	require.Equal(t, `["/taskmasterd"] {"7777/tcp":{},"7780/tcp":{}} SIGTERM {"/etc/taskmaster/jobs":{}} `+
		`["CMD","/usr/local/bin/taskmasterctl","-timeout","4s","health"]`, cfg)
	env := docker(t, "image", "inspect", "-f", `{{json .Config.Env}}`, e.image)
	require.Contains(t, env, "PATH=/usr/local/sbin:/usr/local/bin:")

	version := docker(t, "run", "--rm", "--label", e.label, e.image, "-version")
	require.NotEmpty(t, version)
}

// docker exec taskmasterctl status lists the jobs; the control port,
// published on the host's loopback, answers the token; a peer outside the
// allowlist is refused even with the token.
func testDockerControlPort(t *testing.T, e *dockerEnv) {
	network := e.uniqueName(t)
	docker(t, "network", "create", "--label", e.label, network)
	t.Cleanup(func() { dockerQuiet(t, "network", "rm", network) }) // after the containers' cleanups
	gateway := docker(t, "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", network)
	require.NotEmpty(t, gateway)

	// Through a published port the container sees the network's gateway
	// as the peer: allow it, and 127.0.0.1 for docker exec and HEALTHCHECK.
	token := randomHex(16)
	c := e.runContainer(t, &dockerRunOpts{
		jobs: map[string]string{
			"web":     jobFile("cmd", []string{"httpd", "-f", "-p", "8080", "-h", "/www"}),
			"sleeper": jobFile("cmd", []string{"sleep", "3600"}, "numprocs", 2, "starttime", 0),
		},
		flags: []string{"--network", network, "-p", "127.0.0.1::7777",
			"-e", "TASKMASTER_LISTEN=0.0.0.0:7777",
			"-e", "TASKMASTER_ALLOW=127.0.0.1," + gateway,
			"-e", "TASKMASTER_TOKEN=" + token},
	})
	c.awaitRunning("sleeper", 2)
	c.awaitRunning("web", 1)

	r := c.exec("taskmasterctl", "status")
	require.Zero(t, r.code, "docker exec taskmasterctl status: %s%s", r.stdout, r.stderr)
	requireRunningRows(t, r.stdout, "web:0", "sleeper:0", "sleeper:1")

	hostAddr := docker(t, "port", c.name, "7777/tcp")
	require.True(t, strings.HasPrefix(hostAddr, "127.0.0.1:"), "published on %q", hostAddr)
	r = hostCtl(t, "-addr", hostAddr, "-token", token, "status")
	require.Zero(t, r.code, "taskmasterctl through the published port: %s%s", r.stdout, r.stderr)
	requireRunningRows(t, r.stdout, "web:0", "sleeper:0", "sleeper:1")
	r = hostCtl(t, "-addr", hostAddr, "status")
	require.Equal(t, 1, r.code, "without the token: %s%s", r.stdout, r.stderr)
	require.Contains(t, r.stderr, "authentication required")

	// Another container on the same network, with the right token, is not
	// in the allowlist: taskmasterd closes the connection unanswered.
	ip := c.inspect("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}")
	r = dockerTry(t, nil, "run", "--rm", "--label", e.label, "--network", network,
		"-e", "TASKMASTER_TOKEN="+token, "--entrypoint", "taskmasterctl", e.test,
		"-addr", ip+":7777", "-timeout", "10s", "status")
	require.Equal(t, 3, r.code, "a peer outside the allowlist got: %s%s", r.stdout, r.stderr)
	eventually(t, 10*time.Second, func() bool {
		return strings.Contains(dockerTry(t, nil, "logs", c.name).stderr, "refused connection from a peer outside the allowlist")
	}, "taskmasterd did not log the refusal")
}

// docker stop: every job gets its stop signal, the container exits 0
// within Docker's grace period (after it, Docker's SIGKILL would make the
// exit code 137; how long docker stop took is only logged, as the CLI and
// the engine can be slow on a loaded machine).
func testDockerStopGraceful(t *testing.T, e *dockerEnv) {
	rec := t.TempDir()
	c := e.runContainer(t, &dockerRunOpts{
		jobs: map[string]string{
			"polite": jobFile("cmd", []string{"/testprog", "record", "-out", "/rec/polite", "-children", "2"},
				"numprocs", 2, "starttime", 0),
			"usr1": jobFile("cmd", []string{"/testprog", "record", "-out", "/rec/usr1", "-exit-on", "USR1"},
				"stopsignal", "USR1", "starttime", 0),
		},
		flags: []string{"-v", rec + ":/rec"},
	})
	awaitRecord(t, filepath.Join(rec, "polite"), 2)
	awaitRecord(t, filepath.Join(rec, "usr1"), 1)
	took := c.stop()
	t.Logf("docker stop took %v", took.Round(time.Millisecond))
	require.Equal(t, "0", c.inspect("{{.State.ExitCode}}"), "a graceful stop exits 0 (137: Docker SIGKILLed it after %v)", dockerStopTimeout)
	require.Equal(t, []string{"SIGTERM", "SIGTERM"}, readRecord(filepath.Join(rec, "polite")).signals)
	require.Equal(t, []string{"SIGUSR1"}, readRecord(filepath.Join(rec, "usr1")).signals)
}

// A job that ignores SIGTERM is SIGKILLed after its stoptime, before
// Docker's own SIGKILL, and the container exits 3 (Docker's SIGKILL would
// make it 137).
func testDockerStopStubborn(t *testing.T, e *dockerEnv) {
	rec := t.TempDir()
	c := e.runContainer(t, &dockerRunOpts{
		jobs: map[string]string{
			"polite": jobFile("cmd", []string{"/testprog", "record", "-out", "/rec/polite"}, "starttime", 0),
			"stubborn": jobFile("cmd", []string{"/testprog", "record", "-out", "/rec/stubborn", "-exit-on", "none", "-children", "1"},
				"stoptime", 1, "starttime", 0),
		},
		flags: []string{"-v", rec + ":/rec"},
	})
	awaitRecord(t, filepath.Join(rec, "polite"), 1)
	awaitRecord(t, filepath.Join(rec, "stubborn"), 1)
	took := c.stop()
	t.Logf("docker stop took %v", took.Round(time.Millisecond))
	require.GreaterOrEqual(t, took, time.Second, "SIGKILL came before the stoptime")
	require.Equal(t, "3", c.inspect("{{.State.ExitCode}}"), "a stop that needed SIGKILL exits 3; 137 if Docker, not taskmasterd, SIGKILLed")
	require.Equal(t, []string{"SIGTERM"}, readRecord(filepath.Join(rec, "polite")).signals)
	require.Equal(t, []string{"SIGTERM"}, readRecord(filepath.Join(rec, "stubborn")).signals)
}

// docker kill -s HUP reloads the job files. The directory is not watched
// (TASKMASTER_WATCH=off), so only the HUP can load the new file.
func testDockerHUP(t *testing.T, e *dockerEnv) {
	o := &dockerRunOpts{
		jobs:  map[string]string{"first": jobFile("cmd", []string{"sleep", "3600"}, "starttime", 0)},
		flags: []string{"-e", "TASKMASTER_WATCH=off"},
	}
	c := e.runContainer(t, o)
	c.awaitRunning("first", 1)
	writeFileAtomic(t, filepath.Join(o.jobsDir, "second.tm.json"), jobFile("cmd", []string{"sleep", "3600"}, "starttime", 0))
	// Nothing to poll for: give a watcher, were there one, ample time.
	time.Sleep(time.Second)
	require.NotContains(t, c.status(), "second", "the new file was loaded without a HUP: is the directory watched?")
	docker(t, "kill", "-s", "HUP", c.name)
	c.awaitRunning("second", 1)
	c.awaitRunning("first", 1)
	require.Equal(t, "true", c.inspect("{{.State.Running}}"))
}

// Orphans made inside the container are reaped by taskmasterd as PID 1:
// 1,000 of them, all alive at once (blocked on a gate bind-mounted from the
// host, counted as children of PID 1 before the test releases them), end
// together, and no zombie is left.
func testDockerOrphanStorm(t *testing.T, e *dockerEnv) {
	const orphans = 1000
	g := newGate(t)
	c := e.runContainer(t, &dockerRunOpts{
		jobs: map[string]string{
			"storm": jobFile("cmd", spawnBlocked("/gate/"+gateFifo, orphans, "read x <&3"), "autorestart", false, "starttime", 0, "leftovers", "keep"),
		},
		flags: []string{"-v", g.dir + ":/gate"},
	})
	var seen struct{ Adopted, Processes int }
	eventually(t, 2*time.Minute, func() bool {
		ps := c.procs()
		seen.Adopted, seen.Processes = adoptedBy(ps, 1, "sh"), len(ps)
		return seen.Adopted == orphans
	}, "want %d live orphans adopted by PID 1; have %+v", orphans, &seen)
	g.release()
	// What docker exec runs in the container has parent 0: once the
	// orphans are reaped, PID 1 has no child left, not even a zombie.
	var left procList
	eventually(t, time.Minute, func() bool {
		left = childrenOf(c.procs(), 1)
		return len(left) == 0
	}, "children of PID 1 left: %v", &left)
	require.Empty(t, zombies(c.procs()), "zombies left in the container")
	require.Equal(t, "true", c.inspect("{{.State.Running}}"))
}

// childrenOf returns the processes of ps whose parent is pid, zombies
// included.
func childrenOf(ps []proc, pid int) []proc {
	var out []proc
	for _, p := range ps {
		if p.ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

// procs reads every process of the container from its /proc, through
// docker exec (the reading shell and cat among them).
func (c *dockerContainer) procs() []proc {
	c.t.Helper()
	r := c.exec("sh", "-c", "cat /proc/[0-9]*/stat 2>/dev/null; true")
	require.Zero(c.t, r.code, "reading /proc in the container: %s", r.stderr)
	return parseStats([]byte(r.stdout))
}

// parseStats parses /proc/PID/stat lines.
func parseStats(data []byte) []proc {
	var out []proc
	for _, line := range bytes.Split(data, []byte("\n")) {
		open, end := bytes.IndexByte(line, '('), bytes.LastIndexByte(line, ')')
		if open < 1 || end < open {
			continue
		}
		pid, err := strconv.Atoi(string(bytes.TrimSpace(line[:open])))
		f := bytes.Fields(line[end+1:])
		if err != nil || len(f) < 3 {
			continue
		}
		ppid, _ := strconv.Atoi(string(f[1]))
		pgid, _ := strconv.Atoi(string(f[2]))
		out = append(out, proc{pid: pid, ppid: ppid, pgid: pgid, state: string(f[0]), comm: string(line[open+1 : end])})
	}
	return out
}

// A critical job that ends stops the container with the job's exit code;
// the other jobs get their stop signal first. The job ends once the other
// is ready (its record file has a line), not after a sleep that the other's
// start might outlast.
func testDockerCritical(t *testing.T, e *dockerEnv) {
	rec := t.TempDir()
	c := e.runContainer(t, &dockerRunOpts{
		jobs: map[string]string{
			"app": jobFile("cmd", []string{"sh", "-c", "while [ ! -s /rec/sidecar ]; do sleep 0.05; done; exit 7"}, "critical", true,
				"autorestart", false, "starttime", 0),
			"sidecar": jobFile("cmd", []string{"/testprog", "record", "-out", "/rec/sidecar"}, "starttime", 0),
		},
		flags: []string{"-v", rec + ":/rec"},
	})
	awaitRecord(t, filepath.Join(rec, "sidecar"), 1)
	require.Equal(t, 7, c.awaitExit(20*time.Second), "the container's exit code is the critical job's")
	require.Equal(t, []string{"SIGTERM"}, readRecord(filepath.Join(rec, "sidecar")).signals)
}

// docker run IMAGE -- CMD: taskmasterd as tini, the exit code is CMD's.
func testDockerSingleCommand(t *testing.T, e *dockerEnv) {
	for _, tc := range []struct {
		cmd  []string
		code int
	}{
		{[]string{"sh", "-c", "exit 3"}, 3},
		{[]string{"sh", "-c", "exit 0"}, 0},
		{[]string{"no-such-program"}, 127},
		{[]string{"sh", "-c", "kill -TERM $$"}, 128 + 15},
	} {
		name := e.uniqueName(t)
		t.Cleanup(func() { dockerQuiet(t, "rm", "-fv", name) })
		r := dockerTry(t, nil, append([]string{"run", "--name", name, "--label", e.label, e.test, "--"}, tc.cmd...)...)
		require.Equal(t, tc.code, r.code, "docker run IMAGE -- %q: %s%s", tc.cmd, r.stdout, r.stderr)
		require.Equal(t, strconv.Itoa(tc.code), docker(t, "inspect", "-f", "{{.State.ExitCode}}", name))
	}
}

// Job files edited on the host, in the bind-mounted directory, take effect
// in the running container (inotify sees through the bind mount).
func testDockerBindMountEdits(t *testing.T, e *dockerEnv) {
	o := &dockerRunOpts{jobs: map[string]string{"app": jobFile("cmd", []string{"sleep", "3600"}, "starttime", 0)}}
	c := e.runContainer(t, o)
	c.awaitRunning("app", 1)
	// Edited in place, as `echo ... > app.tm.json` does.
	require.NoError(t, os.WriteFile(filepath.Join(o.jobsDir, "app.tm.json"),
		[]byte(jobFile("cmd", []string{"sleep", "3600"}, "starttime", 0, "numprocs", 3)), 0o644))
	c.awaitRunning("app", 3)
	// Replaced by a rename, as editors and `docker cp` do.
	writeFileAtomic(t, filepath.Join(o.jobsDir, "extra.tm.json"), jobFile("cmd", []string{"sleep", "3600"}, "starttime", 0))
	c.awaitRunning("extra", 1)
	require.NoError(t, os.Remove(filepath.Join(o.jobsDir, "extra.tm.json")))
	eventually(t, 20*time.Second, func() bool {
		_, ok := c.status()["extra"]
		return !ok
	}, "the removed job file's job is still there")
	c.awaitRunning("app", 3)
}

// The image's HEALTHCHECK (taskmasterctl health) follows the jobs: healthy,
// unhealthy once a job fails for good, healthy again once it is removed.
func testDockerHealthcheck(t *testing.T, e *dockerEnv) {
	o := &dockerRunOpts{
		jobs: map[string]string{"app": jobFile("cmd", []string{"sleep", "3600"}, "starttime", 0)},
		// The image's test command, checked more often for the test.
		flags: []string{"--health-interval", "500ms", "--health-retries", "1", "--health-start-period", "1ms"},
	}
	c := e.runContainer(t, o)
	c.awaitHealth("healthy", 30*time.Second)
	writeFileAtomic(t, filepath.Join(o.jobsDir, "broken.tm.json"),
		jobFile("cmd", []string{"sh", "-c", "exit 1"}, "startretries", 0, "starttime", 1))
	c.awaitHealth("unhealthy", 30*time.Second)
	require.Contains(t, c.inspect("{{range .State.Health.Log}}{{.Output}}{{end}}"), "broken: unhealthy (FATAL)")
	require.NoError(t, os.Remove(filepath.Join(o.jobsDir, "broken.tm.json")))
	c.awaitHealth("healthy", 30*time.Second)
}

// awaitHealth waits until the container's health status is want.
func (c *dockerContainer) awaitHealth(want string, timeout time.Duration) {
	c.t.Helper()
	var have string
	eventually(c.t, timeout, func() bool {
		have = c.inspect("{{.State.Health.Status}}")
		return have == want
	}, "container %s: health %q, want %q: %s", c.name, have, want, c.inspect("{{json .State.Health}}"))
}

// hostCtl runs the test's taskmasterctl on the host.
func hostCtl(t *testing.T, args ...string) dockerResult {
	t.Helper()
	return runTool(t, []string{"TASKMASTER_TOKEN=", "NO_COLOR=1"}, append([]string{bin.taskmasterctl}, args...)...)
}

// requireRunningRows checks that taskmasterctl status printed a RUNNING row
// for each process named.
func requireRunningRows(t *testing.T, table string, names ...string) {
	t.Helper()
	rows := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			rows[f[0]] = f[1]
		}
	}
	for _, n := range names {
		require.Equal(t, "RUNNING", rows[n], "%s in:\n%s", n, table)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
