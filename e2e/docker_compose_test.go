package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// composeTool is one implementation of the compose command line.
type composeTool struct {
	name    string   // subtest name
	project string   // compose project suffix
	argv    []string // the command
}

// composeTools returns the compose implementations installed: the v2
// plugin (`docker compose`) and the Python docker-compose 1.x.
func composeTools(t *testing.T) (have []composeTool, missing []string) {
	if dockerTry(t, nil, "compose", "version").code == 0 {
		have = append(have, composeTool{"docker_compose", "v2", []string{"docker", "compose"}})
	} else {
		missing = append(missing, "docker compose (make compose-plugin)")
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		have = append(have, composeTool{"docker-compose", "v1", []string{"docker-compose"}})
	} else {
		missing = append(missing, "docker-compose (make deps)")
	}
	return have, missing
}

// The repository's docker-compose.yml comes up with every service healthy,
// taskmasterctl answers in each, the published control port answers the
// token, and `down` stops everything gracefully within the grace period.
// It runs with each compose implementation installed.
func testDockerCompose(t *testing.T, e *dockerEnv) {
	tools, missing := composeTools(t)
	if len(tools) == 0 {
		dockerSkipOrFail(t, "no compose: neither `docker compose` nor `docker-compose` works")
	}
	for _, m := range missing {
		dockerShout("%s: not tested with %s, which is not installed", t.Name(), m)
		t.Logf("not tested with %s, which is not installed", m)
	}
	for _, tool := range tools {
		t.Run(tool.name, func(t *testing.T) {
			t.Parallel()
			composeScenario(t, e, tool)
		})
	}
}

func composeScenario(t *testing.T, e *dockerEnv, tool composeTool) {
	project := e.composeProject(tool.project)
	webPort := freePort(t)
	ctlPort := freePort(t)
	for ctlPort == webPort {
		ctlPort = freePort(t)
	}
	token := randomHex(16)
	env := []string{
		"TASKMASTER_DEMO_IMAGE=" + e.demo,
		"WEB_PORT=" + strconv.Itoa(webPort),
		"TASKMASTER_PORT=" + strconv.Itoa(ctlPort),
		"TASKMASTER_TOKEN=" + token,
	}
	compose := func(args ...string) dockerResult {
		t.Helper()
		argv := append(append([]string{}, tool.argv...), "-p", project, "-f", filepath.Join(e.repo, "docker-compose.yml"))
		return runTool(t, env, append(argv, args...)...)
	}
	t.Cleanup(func() {
		if t.Failed() {
			r := compose("logs", "--no-color")
			t.Logf("compose logs:\n%s%s", r.stdout, r.stderr)
		}
		if r := compose("down", "-v", "--remove-orphans", "-t", "1"); r.code != 0 {
			t.Logf("cleanup: compose down: %s%s", r.stdout, r.stderr)
		}
	})

	r := compose("up", "-d")
	require.Zero(t, r.code, "compose up:\n%s%s", r.stdout, r.stderr)
	services := []string{"web", "worker"}
	ids := map[string]string{}
	for _, s := range services {
		r := compose("ps", "-q", s)
		require.Zero(t, r.code, "compose ps: %s", r.stderr)
		ids[s] = strings.TrimSpace(r.stdout)
		require.NotEmpty(t, ids[s], "no container for service %s", s)
	}

	// Healthy through the image's HEALTHCHECK (the compose file only
	// shortens its interval).
	for _, s := range services {
		var health string
		eventually(t, 60*time.Second, func() bool {
			health = docker(t, "inspect", "-f", "{{.State.Health.Status}}", ids[s])
			if health == "unhealthy" {
				t.Fatalf("service %s is unhealthy: %s", s, docker(t, "inspect", "-f", "{{json .State.Health}}", ids[s]))
			}
			return health == "healthy"
		}, "service %s: health %q", s, health)
	}

	r = compose("exec", "-T", "web", "taskmasterctl", "status")
	require.Zero(t, r.code, "exec web taskmasterctl status: %s%s", r.stdout, r.stderr)
	requireRunningRows(t, r.stdout, "httpd:0", "pages:0")
	r = compose("exec", "-T", "worker", "taskmasterctl", "status")
	require.Zero(t, r.code, "exec worker taskmasterctl status: %s%s", r.stdout, r.stderr)
	requireRunningRows(t, r.stdout, "worker:0", "worker:1")
	require.Contains(t, r.stdout, "migrate:0")
	require.Contains(t, r.stdout, "report:0")

	// web's control port is published on the host's loopback, for the token.
	ctlAddr := "127.0.0.1:" + strconv.Itoa(ctlPort)
	r = hostCtl(t, "-addr", ctlAddr, "-token", token, "status")
	require.Zero(t, r.code, "taskmasterctl on the published port: %s%s", r.stdout, r.stderr)
	requireRunningRows(t, r.stdout, "httpd:0", "pages:0")
	r = hostCtl(t, "-addr", ctlAddr, "status")
	require.Equal(t, 1, r.code, "without the token: %s%s", r.stdout, r.stderr)

	// The web job serves what the worker jobs of the other container write
	// to the shared volume.
	var page string
	eventually(t, 30*time.Second, func() bool {
		page = httpGet("http://127.0.0.1:" + strconv.Itoa(webPort) + "/")
		return strings.Contains(page, "taskmaster compose demo") && strings.Contains(page, "worker:1: batch")
	}, "web page: %q", page)

	// down: SIGTERM to each PID 1, a graceful exit 0 from each, well
	// within the grace period.
	since := time.Now()
	r = compose("down", "-v")
	took := time.Since(since)
	require.Zero(t, r.code, "compose down: %s%s", r.stdout, r.stderr)
	t.Logf("compose down took %v", took.Round(time.Millisecond))
	require.Less(t, took, dockerStopTimeout, "compose down must not wait for Docker's SIGKILL")
	until := time.Now()
	for _, s := range services {
		codes := docker(t, "events", "--since", unixTime(since.Add(-time.Second)), "--until", unixTime(until),
			"--filter", "container="+ids[s], "--filter", "event=die", "--format", `{{index .Actor.Attributes "exitCode"}}`)
		require.Equal(t, "0", codes, "service %s: exit code at down", s)
	}
	for _, kind := range []string{"ps -a", "network ls", "volume ls"} {
		args := append(strings.Fields(kind), "-q", "--filter", "label=com.docker.compose.project="+project)
		require.Empty(t, docker(t, args...), "docker %s: compose down -v left some", kind)
	}
}

func unixTime(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// httpGet returns the body of url, or the error as text.
func httpGet(url string) string {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}
