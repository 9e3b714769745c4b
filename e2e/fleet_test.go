package e2e

// The fleet link (docs/fleet.md) between real taskmasterd processes on
// loopback: a manager, agents joining it, and taskmasterctl (and the
// original client's wire habits) driving the agents' jobs through the
// manager's control port.

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fleetSecret is the test agents' secret.
const fleetSecret = "correct horse battery staple"

// startFleetManager starts a manager whose agents file lets web-* join
// from loopback with fleetSecret, and returns it with its fleet address
// and certificate fingerprint.
func startFleetManager(t *testing.T, o daemonOpts) (d *daemon, fleetAddr, fingerprint string) {
	t.Helper()
	sum := sha256.Sum256([]byte(fleetSecret))
	rules := filepath.Join(t.TempDir(), "agents.json")
	writeFile(t, rules, fmt.Sprintf(`[{"id":"web-*","secret_sha256":"%s","allowed_ips":["127.0.0.0/8"]}]`, hex.EncodeToString(sum[:])))
	fleetAddr = freeAddr(t)
	o.args = append(o.args, "-fleet-listen", fleetAddr, "-fleet-agents", rules, "-fleet-ping", "1s")
	d = startListening(t, o)
	fp := regexp.MustCompile(`fingerprint=(sha256:[0-9a-f]{64})`)
	eventually(t, 10*time.Second, func() bool { return fp.MatchString(d.stderr.String()) }, "the manager printed no fingerprint")
	return d, fleetAddr, fp.FindStringSubmatch(d.stderr.String())[1]
}

// startFleetAgent starts an agent of id that joins the manager at addr.
func startFleetAgent(t *testing.T, id, addr, fingerprint string, jobs map[string]string) *daemon {
	t.Helper()
	return startListening(t, daemonOpts{
		mode: asSubreaper, jobs: jobs,
		args: []string{"-join", addr, "-agent-id", id, "-fleet-fingerprint", fingerprint, "-fleet-ping", "1s"},
		env:  []string{"TASKMASTER_AGENT_SECRET=" + fleetSecret},
	})
}

// fleetRow is the row of instance (NAME:N as the agent names it) of agent
// in the manager's status table, once cond holds for it.
func fleetRow(t *testing.T, m *daemon, agent, instance string, cond func(map[string]string) bool) map[string]string {
	t.Helper()
	var found map[string]string
	m.awaitCtl(10*time.Second, func(out string) bool {
		if !strings.HasPrefix(out, "AGENT ") {
			return false
		}
		for _, r := range parseTable(t, out).rows {
			if strings.HasPrefix(r["AGENT"], agent) && r["NAME"] == instance && cond(r) {
				found = r
				return true
			}
		}
		return false
	}, "status")
	return found
}

func TestFleetOnLoopback(t *testing.T) {
	m, addr, fp := startFleetManager(t, daemonOpts{mode: asSubreaper, jobs: map[string]string{"proxy": sleeper("autostart", true)}})
	a := startFleetAgent(t, "web-1", addr, fp, map[string]string{
		"app":  sleeper("numprocs", 2, "autostart", true),
		"talk": jobFile("cmd", []string{"/bin/sh", "-c", "while :; do echo tick; sleep 0.1; done"}, "autostart", true, "starttime", 0, "stoptime", 1),
	})

	// The manager's status shows the agent's jobs, pushed: the pid is the
	// agent's own.
	row := fleetRow(t, m, "web-1", "app:1", func(r map[string]string) bool { return r["STATE"] == "RUNNING" })
	agentPids := a.status()["app"].Processes
	assert.Equal(t, fmt.Sprint(agentPids[1].Pid), row["PID"])
	own := parseTable(t, m.ctlOK("status")).row(t, "proxy:0")
	assert.Equal(t, "-", own["AGENT"])

	out := m.ctlOK("agents")
	assert.Regexp(t, `(?m)^web-1\s+127\.0\.0\.1:\d+\s+connected\s`, out)

	// taskmasterctl stops a job of the agent through the manager: its
	// processes are gone from the agent's machine.
	pids := a.hostPidsOf("app")
	m.ctlOK("stop", "web-1/app")
	requireGone(t, pids, "web-1/app after stop through the manager")
	assert.Equal(t, []string{"STOPPED", "STOPPED"}, a.states("app"))
	fleetRow(t, m, "web-1", "app:0", func(r map[string]string) bool { return r["STATE"] == "STOPPED" })

	// The original client: "cmd", every key sent, "/" escaped in JSON.
	reply := originalRequest(t, m.addr, "start", "web-1/app")
	assert.Equal(t, `{"response":"success"};;`, reply)
	a.awaitStates("app", 10*time.Second, "RUNNING", "RUNNING")
	reply = originalRequest(t, m.addr, "start", "web-1/app")
	assert.Equal(t, `{"response":"redundant"};;`, reply)

	// The live link's requests reach the agents too.
	lc := m.dialLink()
	require.Equal(t, "ready", lc.register("").Type)
	seq := lc.send("stop_job_request", map[string]string{"job": "web-1/app"})
	resp, _ := lc.until("stop_job_response")
	assert.JSONEq(t, fmt.Sprintf(`{"seq":%d,"result":"success"}`, seq), string(resp.Data))
	a.awaitStates("app", 10*time.Second, "STOPPED", "STOPPED")
	m.ctlOK("start", "web-1/app")
	// It lists the agents' jobs, and reports their changes.
	lc.send("list_jobs_request", struct{}{})
	list, _ := lc.until("list_jobs_response")
	assert.Contains(t, string(list.Data), `"name":"web-1/app"`)
	assert.Contains(t, string(list.Data), `"instance":"web-1/app:1"`)
	m.ctlOK("stop", "web-1/app:1")
	for {
		up, _ := lc.until("job_update_event")
		if strings.Contains(string(up.Data), `"instance":"web-1/app:1"`) && strings.Contains(string(up.Data), `"state":"STOPPED"`) {
			break
		}
	}
	// And it follows an agent's output (tail -f on the agent, through the
	// manager).
	lc.send("subscribe_output_request", map[string]string{"job": "web-1/talk"})
	output, _ := lc.until("output_event")
	assert.Contains(t, string(output.Data), `"instance":"web-1/talk:0"`)
	assert.Contains(t, string(output.Data), "tick")

	// The agent leaves (SIGTERM: it says bye): lost at once, and its job
	// commands fail at once, saying so.
	a.stopGracefully()
	m.awaitCtl(10*time.Second, func(out string) bool {
		return regexp.MustCompile(`(?m)^web-1\s.*\slost\s.*the agent is shutting down`).MatchString(out)
	}, "agents")
	start := time.Now()
	_, errOut := m.ctlExit(1, "start", "web-1/app")
	assert.Contains(t, errOut, `agent "web-1" is lost since`)
	assert.Less(t, time.Since(start), 5*time.Second)
	fleetRow(t, m, "web-1 (lost)", "app:0", func(map[string]string) bool { return true })

	// It comes back under the same id: connected again, its jobs listed.
	startFleetAgent(t, "web-1", addr, fp, map[string]string{"app": sleeper("autostart", true)})
	fleetRow(t, m, "web-1", "app:0", func(r map[string]string) bool { return r["AGENT"] == "web-1" && r["STATE"] == "RUNNING" })
	m.awaitCtl(10*time.Second, func(out string) bool {
		return regexp.MustCompile(`(?m)^web-1\s+\S+\s+connected\s`).MatchString(out)
	}, "agents")
}

// originalRequest sends one request as the original taskmasterctl does and
// returns the raw reply.
func originalRequest(t *testing.T, addr, cmd, job string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	b64 := strings.ReplaceAll(base64.StdEncoding.EncodeToString([]byte(job)), "/", `\/`)
	_, err = fmt.Fprintf(c, `{"cmd":"%s","job":"%s","data":""};;`, cmd, b64)
	require.NoError(t, err)
	var reply strings.Builder
	r := bufio.NewReader(c)
	for !strings.HasSuffix(reply.String(), ";;") {
		b, err := r.ReadByte()
		require.NoError(t, err, "reply so far %q", reply.String())
		reply.WriteByte(b)
	}
	return reply.String()
}

func TestFleetRefusesWithAClearLogLine(t *testing.T) {
	m, addr, fp := startFleetManager(t, daemonOpts{mode: asSubreaper})
	wrong := startListening(t, daemonOpts{
		mode: asSubreaper, jobs: map[string]string{"app": sleeper("autostart", true)},
		args: []string{"-join", addr, "-agent-id", "web-9", "-fleet-fingerprint", fp},
		env:  []string{"TASKMASTER_AGENT_SECRET=guess"},
	})
	eventually(t, 10*time.Second, func() bool {
		return strings.Contains(m.stderr.String(), `msg="fleet: agent refused" addr=127.0.0.1:`) &&
			strings.Contains(wrong.stderr.String(), "authentication failed")
	}, "no refusal logged; manager:\n%s\nagent:\n%s", m.stderr, wrong.stderr)
	assert.Contains(t, m.stderr.String(), `agent=web-9 err="authentication failed: unknown agent id or wrong secret"`)
	// Its jobs run all the same.
	wrong.awaitStates("app", 10*time.Second, "RUNNING")
	assert.Contains(t, m.ctlOK("agents"), "no agents")

	// A pinned fingerprint that is not the manager's.
	other := "sha256:" + strings.Repeat("ab", 32)
	untrusting := startListening(t, daemonOpts{
		mode: asSubreaper,
		args: []string{"-join", addr, "-agent-id", "web-8", "-fleet-fingerprint", other},
		env:  []string{"TASKMASTER_AGENT_SECRET=" + fleetSecret},
	})
	eventually(t, 10*time.Second, func() bool {
		return strings.Contains(untrusting.stderr.String(), "not the pinned "+other)
	}, "the agent did not refuse the certificate:\n%s", untrusting.stderr)
	eventually(t, 10*time.Second, func() bool {
		return strings.Contains(m.stderr.String(), "TLS handshake failed")
	}, "the manager logged no failed handshake")
}

func TestFleetFlagsAreChecked(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "agents.json")
	writeFile(t, bad, `[{"id":"web-*","secret_sha256":"00"}]`)
	tests := []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"-fleet-listen", "127.0.0.1:0"}, nil, "-fleet-listen needs -fleet-agents FILE"},
		{[]string{"-fleet-listen", "127.0.0.1:0", "-fleet-agents", bad}, nil, "-fleet-agents " + bad + ": entry 0"},
		{[]string{"-join", "127.0.0.1:1", "-agent-id", "a"}, nil, "-join needs the agent's secret"},
		{[]string{"-join", "127.0.0.1:1", "-agent-id", "a"}, []string{"TASKMASTER_AGENT_SECRET=x"}, "-fleet-fingerprint sha256:"},
		{[]string{"-join", "127.0.0.1:1", "-agent-id", "a/b"}, []string{"TASKMASTER_AGENT_SECRET=x"}, "-agent-id: agent id"},
	}
	for _, tt := range tests {
		d := startDaemon(t, daemonOpts{mode: asSubreaper, args: tt.args, env: tt.env})
		assert.Equal(t, 2, d.wait(10*time.Second), "%v", tt.args)
		assert.Contains(t, d.stderr.String(), tt.want, "%v", tt.args)
	}
}

// The fingerprint can be known before the manager first starts: the
// certificate printed is the one the manager then uses.
func TestFleetFingerprintPrint(t *testing.T) {
	state := t.TempDir()
	print := func() string {
		out, err := exec.Command(bin.taskmasterd, "-state", state, "-fleet-fingerprint-print").Output()
		require.NoError(t, err)
		return strings.TrimSpace(string(out))
	}
	fp := print()
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, fp)
	assert.Equal(t, fp, print(), "generated once, then kept")
	_, _, logged := startFleetManager(t, daemonOpts{mode: asSubreaper, state: state})
	assert.Equal(t, fp, logged)
}

// One directory on the manager configures the agents: -fleet-jobs's
// common/ and AGENT_ID/ files land in the agents' jobs directories, and
// follow the manager's edits.
func TestFleetJobFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "common"), 0o755))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "web-1"), 0o755))
	writeFile(t, filepath.Join(dir, "common", "shared.tm.json"), sleeper("autostart", true))
	writeFile(t, filepath.Join(dir, "web-1", "only.tm.json"), sleeper("autostart", true))
	m, addr, fp := startFleetManager(t, daemonOpts{mode: asSubreaper, args: []string{"-fleet-jobs", dir}})
	a := startFleetAgent(t, "web-1", addr, fp, map[string]string{"own": sleeper("autostart", true)})
	fleetRow(t, m, "web-1", "shared:0", func(r map[string]string) bool { return r["STATE"] == "RUNNING" })
	fleetRow(t, m, "web-1", "only:0", func(r map[string]string) bool { return r["STATE"] == "RUNNING" })
	a.awaitStates("shared", 10*time.Second, "RUNNING")
	got, err := os.ReadFile(filepath.Join(a.jobs, "shared.tm.json"))
	require.NoError(t, err)
	assert.Equal(t, sleeper("autostart", true), string(got))

	// An edit on the manager reaches the agent; a removal removes the job.
	writeFileAtomic(t, filepath.Join(dir, "common", "shared.tm.json"), sleeper("autostart", true, "numprocs", 2))
	require.NoError(t, os.Remove(filepath.Join(dir, "web-1", "only.tm.json")))
	a.awaitStates("shared", 10*time.Second, "RUNNING", "RUNNING")
	eventually(t, 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(a.jobs, "only.tm.json"))
		return errors.Is(err, os.ErrNotExist)
	}, "only.tm.json is still on the agent")
	_, own := a.status()["own"]
	assert.True(t, own, "the agent's own job is kept")
}

// An agent joins over the manager's live link (register_slave), where
// only HTTP passes: the same fleet, the same commands.
func TestFleetOverTheLiveLink(t *testing.T) {
	m, _, _ := startFleetManager(t, daemonOpts{mode: asSubreaper})
	join := "ws://" + m.http + "/api/socket"
	a := startListening(t, daemonOpts{
		mode: asSubreaper, jobs: map[string]string{"app": sleeper("autostart", true)},
		args: []string{"-join", join, "-agent-id", "web-7", "-fleet-insecure", "-fleet-ping", "1s"},
		env:  []string{"TASKMASTER_AGENT_SECRET=" + fleetSecret},
	})
	fleetRow(t, m, "web-7", "app:0", func(r map[string]string) bool { return r["STATE"] == "RUNNING" })
	m.awaitCtl(10*time.Second, func(out string) bool {
		return regexp.MustCompile(`(?m)^web-7\s+127\.0\.0\.1:\d+\s+connected\s`).MatchString(out)
	}, "agents")
	pids := a.hostPidsOf("app")
	m.ctlOK("stop", "web-7/app")
	requireGone(t, pids, "web-7/app after stop through the manager")
	fleetRow(t, m, "web-7", "app:0", func(r map[string]string) bool { return r["STATE"] == "STOPPED" })

	// Without -fleet-insecure, ws:// is refused: the secret would go in clear.
	clear := startDaemon(t, daemonOpts{mode: asSubreaper,
		args: []string{"-join", join, "-agent-id", "web-8", "-fleet-fingerprint", "sha256:" + strings.Repeat("00", 32)},
		env:  []string{"TASKMASTER_AGENT_SECRET=" + fleetSecret}})
	eventually(t, 10*time.Second, func() bool {
		return strings.Contains(clear.stderr.String(), "ws:// would send the agent's secret in clear")
	},
		"no refusal of ws://:\n%s", clear.stderr)
	// A wrong secret: refused, with the reason.
	wrong := startDaemon(t, daemonOpts{mode: asSubreaper,
		args: []string{"-join", join, "-agent-id", "web-9", "-fleet-insecure"},
		env:  []string{"TASKMASTER_AGENT_SECRET=guess"}})
	eventually(t, 10*time.Second, func() bool { return strings.Contains(wrong.stderr.String(), "authentication failed") },
		"no refusal of a wrong secret:\n%s", wrong.stderr)
	awaitLogged(t, m.stderr, "agent=web-9", 10*time.Second)

	// The agent leaves: lost, with its bye.
	a.stopGracefully()
	m.awaitCtl(10*time.Second, func(out string) bool {
		return regexp.MustCompile(`(?m)^web-7\s.*\slost\s.*the agent is shutting down`).MatchString(out)
	}, "agents")
}
