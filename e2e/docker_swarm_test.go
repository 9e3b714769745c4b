package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The Swarm stack of deploy/swarm, deployed by `make swarm-deploy` from
// this run's demo image: the agent service scaled to 8 gives 8 agents
// connected on the manager; scaled to 3, the 5 others become lost. `make
// swarm-down` removes the stack, and leaves the swarm if it made one.
func testDockerSwarm(t *testing.T, e *dockerEnv) {
	if _, err := os.Stat("/usr/bin/make"); err != nil {
		dockerSkipOrFail(t, "no make: the test deploys the stack with make swarm-deploy")
	}
	stack := e.run + "swarm"
	vars := []string{
		"SWARM_STACK=" + stack, "SWARM_DIR=" + filepath.Join(t.TempDir(), "swarm"),
		"TASKMASTERD=" + bin.taskmasterd, "TASKMASTER_DEMO_IMAGE=" + e.demo,
		"AGENT_REPLICAS=2", "TASKMASTER_FLEET_PING=2s",
	}
	makeTarget := func(target string) dockerResult {
		return runTool(t, nil, append([]string{"make", "-C", e.repo, "--no-print-directory", target}, vars...)...)
	}
	wasActive := strings.TrimSpace(docker(t, "info", "-f", "{{.Swarm.LocalNodeState}}")) == "active"
	t.Cleanup(func() {
		if t.Failed() {
			for _, svc := range []string{"manager", "agent"} {
				r := dockerTry(t, nil, "service", "logs", "--raw", stack+"_"+svc)
				t.Logf("service %s logs:\n%s%s", svc, r.stdout, r.stderr)
			}
		}
		r := makeTarget("swarm-down")
		t.Logf("make swarm-down: %s%s", r.stdout, r.stderr)
		state := strings.TrimSpace(dockerQuiet(t, "info", "-f", "{{.Swarm.LocalNodeState}}"))
		if !wasActive && state != "inactive" {
			t.Errorf("the swarm the test initialised is still there (%s)", state)
		}
		if left := dockerQuiet(t, "ps", "-aq", "--filter", "label=com.docker.stack.namespace="+stack); left != "" {
			t.Errorf("swarm-down left containers: %s", left)
		}
	})
	r := makeTarget("swarm-deploy")
	require.Zero(t, r.code, "make swarm-deploy:\n%s%s", r.stdout, r.stderr)

	manager := func() string {
		return docker(t, "ps", "-q", "--filter", "label=com.docker.swarm.service.name="+stack+"_manager")
	}
	agents := func() map[string]int {
		id := manager()
		if id == "" || strings.Contains(id, "\n") {
			return nil
		}
		r := dockerTry(t, nil, "exec", id, "taskmasterctl", "-json", "agents")
		if r.code != 0 {
			return nil
		}
		var reply struct {
			Agents []struct{ State string } `json:"agents"`
		}
		if json.Unmarshal([]byte(r.stdout), &reply) != nil {
			return nil
		}
		n := map[string]int{}
		for _, a := range reply.Agents {
			n[a.State]++
		}
		return n
	}
	await := func(what string, cond func(map[string]int) bool) {
		t.Helper()
		var got map[string]int
		eventually(t, 90*time.Second, func() bool { got = agents(); return got != nil && cond(got) },
			"%s: the manager lists %v", what, got)
	}
	await("2 agents", func(n map[string]int) bool { return n["connected"] == 2 })

	docker(t, "service", "scale", "-d", stack+"_agent=8")
	await("8 agents", func(n map[string]int) bool { return n["connected"] == 8 })

	docker(t, "service", "scale", "-d", stack+"_agent=3")
	await("3 connected, 5 lost", func(n map[string]int) bool { return n["connected"] == 3 && n["lost"] == 5 })

	// Every job of the 3 is in the manager's status, pushed by its agent.
	out := docker(t, "exec", manager(), "taskmasterctl", "status")
	running := 0
	for _, row := range parseTable(t, out).rows {
		if row["NAME"] == "web:0" && row["STATE"] == "RUNNING" && !strings.Contains(row["AGENT"], "(lost)") {
			running++
		}
	}
	require.Equal(t, 3, running, "status:\n%s", out)
}
