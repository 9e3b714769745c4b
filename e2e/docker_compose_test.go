package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
// plugin (`docker compose`) and the Python docker-compose 1.x. `make deps`
// installs both.
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
// It runs with each compose implementation installed; CI
// (TASKMASTER_REQUIRE_DOCKER=1) requires both.
func testDockerCompose(t *testing.T, e *dockerEnv) {
	tools, missing := composeTools(t)
	if len(tools) == 0 {
		dockerSkipOrFail(t, "no compose: neither `docker compose` nor `docker-compose` works")
	}
	for _, m := range missing {
		if os.Getenv(dockerRequireEnv) == "1" {
			t.Errorf("not tested with %s, which is not installed (%s=1: both compose implementations are required)", m, dockerRequireEnv)
			continue
		}
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
	dashPort := freePort(t)
	for dashPort == webPort || dashPort == ctlPort {
		dashPort = freePort(t)
	}
	token := randomHex(16)
	env := []string{
		"TASKMASTER_DEMO_IMAGE=" + e.demo,
		"WEB_PORT=" + strconv.Itoa(webPort),
		"TASKMASTER_PORT=" + strconv.Itoa(ctlPort),
		"DASHBOARD_PORT=" + strconv.Itoa(dashPort),
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
	services := []string{"manager", "web", "worker"}
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

	composeReadiness(t, compose, ids["worker"], "127.0.0.1:"+strconv.Itoa(dashPort))

	r = compose("exec", "-T", "web", "taskmasterctl", "status")
	require.Zero(t, r.code, "exec web taskmasterctl status: %s%s", r.stdout, r.stderr)
	requireRunningRows(t, r.stdout, "httpd:0", "pages:0", "console:0")
	r = compose("exec", "-T", "worker", "taskmasterctl", "status")
	require.Zero(t, r.code, "exec worker taskmasterctl status: %s%s", r.stdout, r.stderr)
	requireRunningRows(t, r.stdout, "worker:0", "worker:1")
	require.Contains(t, r.stdout, "migrate:0")
	require.Contains(t, r.stdout, "report:0")

	// The fleet: the manager sees every job of web and worker, pushed by
	// them, and drives them.
	var fleet string
	eventually(t, 30*time.Second, func() bool {
		r = compose("exec", "-T", "manager", "taskmasterctl", "status")
		fleet = r.stdout
		return r.code == 0 && strings.HasPrefix(fleet, "AGENT ") &&
			regexp.MustCompile(`(?m)^web\s+httpd:0\s+RUNNING\s`).MatchString(fleet) &&
			regexp.MustCompile(`(?m)^worker\s+worker:1\s+RUNNING\s`).MatchString(fleet)
	}, "the manager's status: %q (stderr %q)", fleet, r.stderr)
	r = compose("exec", "-T", "manager", "taskmasterctl", "agents")
	require.Zero(t, r.code, "exec manager taskmasterctl agents: %s%s", r.stdout, r.stderr)
	require.Regexp(t, `(?m)^web\s+\S+\s+connected\s`, r.stdout)
	require.Regexp(t, `(?m)^worker\s+\S+\s+connected\s`, r.stdout)
	r = compose("exec", "-T", "manager", "taskmasterctl", "stop", "worker/worker:0")
	require.Zero(t, r.code, "stop worker/worker:0 through the manager: %s%s", r.stdout, r.stderr)
	r = compose("exec", "-T", "worker", "taskmasterctl", "status", "worker:0")
	require.Contains(t, r.stdout, "STOPPED", "worker:0 on the worker after the manager stopped it")
	r = compose("exec", "-T", "manager", "taskmasterctl", "start", "worker/worker:0")
	require.Zero(t, r.code, "start worker/worker:0 through the manager: %s%s", r.stdout, r.stderr)

	// web's control port is published on the host's loopback, for the token.
	ctlAddr := "127.0.0.1:" + strconv.Itoa(ctlPort)
	r = hostCtl(t, "-addr", ctlAddr, "-token", token, "status")
	require.Zero(t, r.code, "taskmasterctl on the published port: %s%s", r.stdout, r.stderr)
	requireRunningRows(t, r.stdout, "httpd:0", "pages:0")
	r = hostCtl(t, "-addr", ctlAddr, "status")
	require.Equal(t, 1, r.code, "without the token: %s%s", r.stdout, r.stderr)

	// Attaching to web's console, through exec and through the published port.
	composeAttach(t, append(append([]string{}, tool.argv...), "-p", project, "-f", filepath.Join(e.repo, "docker-compose.yml")),
		env, ctlAddr, token)

	// web's dashboard is published on the host's loopback too: the page is
	// served, /healthz says ok, and the live link wants the token.
	dash := "127.0.0.1:" + strconv.Itoa(dashPort)
	require.Contains(t, dashGet(t, "http://"+dash+"/"), "<title>taskmaster</title>")
	require.JSONEq(t, `{"status":"ok"}`, dashGet(t, "http://"+dash+"/healthz"))
	lc := dialLinkAt(t, dash)
	require.Equal(t, "close", lc.register("").Type)
	lc = dialLinkAt(t, dash)
	require.Equal(t, "ready", lc.register(token).Type)
	lc.send("list_jobs_request", struct{}{})
	m, _ := lc.until("list_jobs_response")
	require.Contains(t, string(m.Data), `"instance":"httpd:0"`)

	// The web job serves what the worker jobs of the other container write
	// to the shared volume.
	var page string
	eventually(t, 30*time.Second, func() bool {
		page = httpGet("http://127.0.0.1:" + strconv.Itoa(webPort) + "/")
		return strings.Contains(page, "taskmaster compose demo") && strings.Contains(page, "worker:1: batch")
	}, "web page: %q", page)

	// down: SIGTERM to each PID 1, a graceful exit 0 from each within the
	// grace period. The exit codes are the proof: had Docker's SIGKILL come
	// at the end of the grace period, they would be 137. How long down
	// took is only logged: on a loaded machine the compose client alone
	// (docker-compose 1.29 is Python) can take longer than the grace period.
	since := time.Now()
	r = compose("down", "-v")
	took := time.Since(since)
	require.Zero(t, r.code, "compose down: %s%s", r.stdout, r.stderr)
	t.Logf("compose down took %v", took.Round(time.Millisecond))
	until := time.Now()
	for _, s := range services {
		codes := docker(t, "events", "--since", unixTime(since.Add(-time.Second)), "--until", unixTime(until),
			"--filter", "container="+ids[s], "--filter", "event=die", "--format", `{{index .Actor.Attributes "exitCode"}}`)
		require.Equal(t, "0", codes, "service %s: exit code at down (137: Docker SIGKILLed it after %v)", s, dockerStopTimeout)
	}
	for _, kind := range []string{"ps -a", "network ls", "volume ls"} {
		args := append(strings.Fields(kind), "-q", "--filter", "label=com.docker.compose.project="+project)
		require.Empty(t, docker(t, args...), "docker %s: compose down -v left some", kind)
	}
}

// composeReadiness checks that the compose environment is healthy only
// when its real service is: web's httpd is ready once it serves the page
// pages writes, and web is healthy only then. worker, which waits for web
// to be healthy, started after httpd was ready, by the clocks of the
// processes' kernel; and with the page gone and httpd started again, web
// is unhealthy (taskmasterctl health, the image's HEALTHCHECK, and
// /healthz) until pages writes it again.
func composeReadiness(t *testing.T, compose func(args ...string) dockerResult, worker, dash string) {
	t.Helper()
	httpd := func() processStatus {
		t.Helper()
		r := compose("exec", "-T", "web", "taskmasterctl", "-json", "status", "httpd")
		require.Zero(t, r.code, "status httpd: %s%s", r.stdout, r.stderr)
		var st jobStatus
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &st), r.stdout)
		require.Len(t, st.Processes, 1)
		return st.Processes[0]
	}
	p := httpd()
	require.Equal(t, "RUNNING", p.State)
	require.Equal(t, "ready", p.Ready)
	require.Contains(t, p.Detail, "ready: http http://127.0.0.1:8080/index.html")
	started, err := time.Parse(time.RFC3339Nano, docker(t, "inspect", "-f", "{{.State.StartedAt}}", worker))
	require.NoError(t, err)
	require.True(t, started.After(p.Since), "worker started at %v, before web's httpd was ready at %v", started, p.Since)

	run := func(want int, args ...string) dockerResult {
		t.Helper()
		r := compose(append([]string{"exec", "-T", "web"}, args...)...)
		require.Equal(t, want, r.code, "%q: %s%s", args, r.stdout, r.stderr)
		return r
	}
	run(0, "taskmasterctl", "stop", "pages")
	run(0, "rm", "-f", "/www/index.html")
	run(0, "taskmasterctl", "kill", "httpd")
	r := compose("exec", "-d", "web", "taskmasterctl", "start", "httpd") // answers once ready: not yet
	require.Zero(t, r.code, "exec -d start httpd: %s%s", r.stdout, r.stderr)
	run(0, "taskmasterctl", "wait", "httpd", "STARTING", "--timeout", "30s")
	var health dockerResult
	eventually(t, 30*time.Second, func() bool {
		health = run(1, "taskmasterctl", "health")
		return strings.Contains(health.stderr, "HTTP 404")
	}, "web's health: %s", &health.stderr)
	require.Contains(t, health.stderr, "taskmasterctl: httpd: unhealthy (STARTING): httpd:0: not ready: HTTP 404 Not Found (want 200-299)")
	require.JSONEq(t, `{"status":"unhealthy"}`, dashGet(t, "http://"+dash+"/healthz"))

	run(0, "taskmasterctl", "start", "pages")
	run(0, "taskmasterctl", "wait", "httpd", "ready", "--timeout", "30s")
	run(0, "taskmasterctl", "health")
	require.JSONEq(t, `{"status":"ok"}`, dashGet(t, "http://"+dash+"/healthz"))
}

// dashGet fetches url through a port Docker publishes. On a loaded machine
// Docker's proxy has refused a connection now and then: a refusal is tried
// again, any answer is returned.
func dashGet(t *testing.T, url string) string {
	t.Helper()
	var body string
	eventually(t, 30*time.Second, func() bool {
		body = httpGet(url)
		return !strings.Contains(body, "connection refused")
	}, "%s: %s", url, &body)
	return body
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
