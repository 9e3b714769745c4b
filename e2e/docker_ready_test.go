package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A program that speaks sd_notify gets its socket in an image FROM
// scratch, which has no /tmp (taskmasterd falls back to /dev/shm, which
// Docker always mounts), becomes RUNNING on READY=1, and the container is
// healthy once it is: before, the image's HEALTHCHECK fails it as not
// ready. The program sends READY=1 once it gets SIGUSR2, which the test
// sends through docker kill and taskmasterd forwards.
func testDockerNotifyInScratch(t *testing.T, e *dockerEnv) {
	ctxDir := t.TempDir()
	copyFile(t, bin.testprog, filepath.Join(ctxDir, "testprog"), 0o755)
	dockerfile := "FROM " + e.image + "\nCOPY testprog /testprog\n"
	require.NoError(t, os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644))
	image := e.image + "-notify"
	e.build(t, ctxDir, "Dockerfile", image)
	t.Cleanup(func() { dockerQuiet(t, "rmi", image) })

	c := e.runContainer(t, &dockerRunOpts{
		image: image,
		jobs: map[string]string{
			"app": jobFile("cmd", []string{"/testprog", "notify", "-out", "/dev/stdout", "-signal", "USR2"},
				"ready", rawJSON(`{"notify": true, "deadline": 0}`), "forwardsignals", []string{"USR2"}),
		},
		flags: []string{"--health-interval", "500ms", "--health-retries", "1", "--health-start-period", "1ms"},
	})
	c.awaitHealth("unhealthy", 30*time.Second)
	r := c.exec("taskmasterctl", "health")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "app: unhealthy (STARTING): app:0: not ready")
	st := c.status()["app"].Processes[0]
	require.Equal(t, "STARTING", st.State)
	require.Equal(t, "waiting", st.Ready)
	var logs string
	eventually(t, 10*time.Second, func() bool {
		logs = docker(t, "logs", c.name)
		return strings.Contains(logs, "app:0 | socket /dev/shm/taskmasterd-notify-")
	}, "the socket is not in /dev/shm: %s", &logs)

	docker(t, "kill", "-s", "USR2", c.name)
	c.awaitHealth("healthy", 30*time.Second)
	st = c.status()["app"].Processes[0]
	require.Equal(t, "RUNNING", st.State)
	require.Equal(t, "ready: READY=1", st.Detail)
}
