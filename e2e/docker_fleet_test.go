package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fleetJob is the job every agent container runs.
const fleetJob = `{"cmd":"sleep 100000","autostart":true,"starttime":0,"stoptime":2}`

// dockerFleet is a manager container and its agents on a private network.
type dockerFleet struct {
	t       *testing.T
	e       *dockerEnv
	network string
	fp      string
	manager *dockerContainer
}

// agentInfo is what the tests read of taskmasterctl -json agents.
type fleetAgentInfo struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Reason string `json:"reason"`
	Jobs   int    `json:"jobs"`
}

// startDockerFleet starts a manager on a network of its own. Its agents
// file lets a* join from anywhere, b* only from 192.0.2.0/24 (never a
// Docker network), both with fleetSecret; its certificate is made on the
// host first, so that agents can pin it.
func startDockerFleet(t *testing.T, e *dockerEnv) *dockerFleet {
	f := &dockerFleet{t: t, e: e, network: e.uniqueName(t)}
	docker(t, "network", "create", "--label", e.label, f.network)
	t.Cleanup(func() { dockerQuiet(t, "network", "rm", f.network) })

	state := t.TempDir()
	out, err := exec.Command(bin.taskmasterd, "-state", state, "-fleet-fingerprint-print").Output()
	require.NoError(t, err)
	f.fp = strings.TrimSpace(string(out))
	rules := t.TempDir()
	sum := sha256.Sum256([]byte(fleetSecret))
	writeFile(t, filepath.Join(rules, "agents.json"), fmt.Sprintf(
		`[{"id":"a*","secret_sha256":"%[1]s","allowed_ips":["0.0.0.0/0","::/0"]},`+
			`{"id":"b*","secret_sha256":"%[1]s","allowed_ips":["192.0.2.0/24"]}]`, hex.EncodeToString(sum[:])))
	f.manager = e.runContainer(t, &dockerRunOpts{image: e.demo, flags: []string{
		"--network", f.network, "--network-alias", "manager", "--hostname", "manager",
		"-v", state + ":/var/lib/taskmaster", "-v", rules + ":/etc/taskmaster/fleet:ro",
		"-e", "TASKMASTER_JOBS=/etc/taskmaster/none", "-e", "TASKMASTER_FLEET_LISTEN=:7790",
		"-e", "TASKMASTER_FLEET_AGENTS=/etc/taskmaster/fleet/agents.json", "-e", "TASKMASTER_FLEET_PING=1s",
	}})
	return f
}

// agent starts an agent container of id; env adds or overrides variables.
func (f *dockerFleet) agent(id string, env ...string) *dockerContainer {
	flags := []string{"--network", f.network, "-e", "TASKMASTER_JOIN=manager", "-e", "TASKMASTER_AGENT_ID=" + id,
		"-e", "TASKMASTER_AGENT_SECRET=" + fleetSecret, "-e", "TASKMASTER_FLEET_FINGERPRINT=" + f.fp,
		"-e", "TASKMASTER_FLEET_PING=1s"}
	for _, kv := range env {
		flags = append(flags, "-e", kv)
	}
	return f.e.runContainer(f.t, &dockerRunOpts{image: f.e.demo, jobs: map[string]string{"app": fleetJob}, flags: flags})
}

// agents is the manager's list of agents, by id; nil if it does not answer.
func (f *dockerFleet) agents() map[string]fleetAgentInfo {
	r := f.manager.exec("taskmasterctl", "-json", "agents")
	if r.code != 0 {
		return nil
	}
	var reply struct{ Agents []fleetAgentInfo }
	if json.Unmarshal([]byte(r.stdout), &reply) != nil {
		return nil
	}
	out := map[string]fleetAgentInfo{}
	for _, a := range reply.Agents {
		out[a.ID] = a
	}
	return out
}

// await waits until the manager's agents satisfy cond.
func (f *dockerFleet) await(timeout time.Duration, what string, cond func(map[string]fleetAgentInfo) bool) {
	f.t.Helper()
	var got map[string]fleetAgentInfo
	eventually(f.t, timeout, func() bool { got = f.agents(); return got != nil && cond(got) }, "%s: agents %+v", what, got)
}

func connected(ids ...string) func(map[string]fleetAgentInfo) bool {
	return func(as map[string]fleetAgentInfo) bool {
		for _, id := range ids {
			if as[id].State != "connected" || as[id].Jobs != 1 {
				return false
			}
		}
		return true
	}
}

// logged waits for a line of c's log that contains every word.
func (c *dockerContainer) logged(timeout time.Duration, words ...string) {
	c.t.Helper()
	var out string
	eventually(c.t, timeout, func() bool {
		r := dockerTry(c.t, nil, "logs", c.name)
		out = r.stdout + r.stderr
		for _, line := range strings.Split(out, "\n") {
			all := true
			for _, w := range words {
				all = all && strings.Contains(line, w)
			}
			if all {
				return true
			}
		}
		return false
	}, "no line of %s's log has %q:\n%s", c.name, words, out)
}

// appProcess is the pid and start of an agent's job, which must run.
func appProcess(t *testing.T, c *dockerContainer) string {
	t.Helper()
	p := c.status()["app"].Processes[0]
	require.Equal(t, "RUNNING", p.State)
	return fmt.Sprintf("%d@%s", p.Pid, p.Since.Format(time.RFC3339Nano))
}

// Faults of a real deployment, in containers: the manager killed and
// back, an agent cut from the network and back, an agent restarted; and
// bad peers: a wrong secret, an address not allowed, an untrusted
// certificate, a garbage frame, an oversized one. Each is refused with a
// clear log line, and the jobs that ran before run on, the same
// processes, after every one of them.
func testDockerFleetFaults(t *testing.T, e *dockerEnv) {
	f := startDockerFleet(t, e)
	a1, a2 := f.agent("a1"), f.agent("a2")
	f.await(60*time.Second, "a1 and a2 joined", connected("a1", "a2"))
	before := map[*dockerContainer]string{a1: appProcess(t, a1), a2: appProcess(t, a2)}
	unchanged := func(when string) {
		t.Helper()
		for c, proc := range before {
			require.Equal(t, proc, appProcess(t, c), "%s: the job of %s is not the same process", when, c.name)
		}
	}

	// The manager is killed: the agents' jobs run on; it comes back, and
	// they join it again, with every job.
	docker(t, "kill", f.manager.name)
	a1.logged(30*time.Second, "fleet: not connected to the manager; trying again")
	unchanged("manager killed")
	docker(t, "start", f.manager.name)
	f.await(90*time.Second, "a1 and a2 back after the manager's restart", connected("a1", "a2"))
	r := f.manager.exec("taskmasterctl", "status")
	require.Regexp(t, `(?m)^a1\s+app:0\s+RUNNING\s`, r.stdout)
	require.Regexp(t, `(?m)^a2\s+app:0\s+RUNNING\s`, r.stdout)
	unchanged("manager back")

	// a1 is cut from the network: lost once a pong is late (ping 1 s), a2
	// not; reconnected, it joins again.
	docker(t, "network", "disconnect", f.network, a1.name)
	f.await(30*time.Second, "a1 lost", func(as map[string]fleetAgentInfo) bool {
		return as["a1"].State == "lost" && as["a1"].Reason == "no pong in time" && as["a2"].State == "connected"
	})
	f.manager.logged(5*time.Second, "fleet: agent lost", "agent=a1", "no pong in time")
	docker(t, "network", "connect", f.network, a1.name)
	f.await(90*time.Second, "a1 back", connected("a1", "a2"))
	unchanged("network back")

	// a2's container restarts: it joins again under the same id.
	docker(t, "restart", "-t", "5", a2.name)
	f.await(60*time.Second, "a2 rejoined", connected("a1", "a2"))
	before[a2] = appProcess(t, a2)

	// Bad peers.
	f.agent("a3", "TASKMASTER_AGENT_SECRET=guess")
	f.manager.logged(30*time.Second, "fleet: agent refused", "agent=a3", "unknown agent id or wrong secret")
	f.agent("b1")
	f.manager.logged(30*time.Second, "fleet: agent refused", "agent=b1", "address not allowed", `outside the allowed_ips of \"b*\"`)
	untrusting := f.agent("a4", "TASKMASTER_FLEET_FINGERPRINT=sha256:"+strings.Repeat("ab", 32))
	untrusting.logged(30*time.Second, "fleet: not connected to the manager", "not the pinned sha256:abab")
	f.manager.logged(30*time.Second, "fleet: agent refused: TLS handshake failed")
	for frame, reason := range map[string]string{"garbage": "protocol error: invalid message", "oversized": "protocol error: message too big"} {
		r := dockerTry(t, nil, "run", "--rm", "--label", e.label, "--network", f.network, "--entrypoint", "/testprog", e.test,
			"fleetpeer", "manager:7790", frame)
		require.Zero(t, r.code, "%s frame: %s%s", frame, r.stdout, r.stderr)
		require.Equal(t, "bye: "+reason+"\n", r.stdout)
		f.manager.logged(10*time.Second, "fleet: agent refused", reason)
	}
	as := f.agents()
	for _, id := range []string{"a3", "a4", "b1"} {
		_, listed := as[id]
		require.False(t, listed, "refused agent %s is listed: %+v", id, as)
	}
	require.True(t, connected("a1", "a2")(as), "the good agents after the bad peers: %+v", as)
	unchanged("bad peers")
}
