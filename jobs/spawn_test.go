package jobs

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/jobs/output"
	"github.com/taskmaster/taskmaster/reaper"
)

func TestInstanceEnvSharesTheJobEnvSafely(t *testing.T) {
	spec := testSpec("web")
	spec.Env = map[string]string{"A": "job", "PATH": "/opt/bin"}
	base := []string{"A=base", "B=base", "TASKMASTER_INSTANCE=outer:0", "PATH=/bin"}
	job := jobEnv(base, spec)
	require.ElementsMatch(t, []string{"A=job", "B=base", "PATH=/opt/bin", "TASKMASTER_JOB=web"}, job)
	require.Equal(t, "/opt/bin", envPath(job))

	zero, one := instanceEnv(job, "web:0"), instanceEnv(job, "web:1")
	require.Equal(t, "TASKMASTER_INSTANCE=web:0", zero[len(zero)-1], "not overwritten by the next instance")
	require.Equal(t, "TASKMASTER_INSTANCE=web:1", one[len(one)-1])
	require.Len(t, job, 4, "the job's environment is left as it is")
}

// syncBuffer is an io.Writer that tests can read while a Console writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The real Starter: output reaches the console through the Poller, stdin is
// /dev/null, the instance gets its name, and the exit comes back through
// the reaper.
func TestStarterRunsAProcess(t *testing.T) {
	r := reaper.New(nil)
	poller, err := output.NewPoller()
	require.NoError(t, err)
	t.Cleanup(func() { _ = poller.Close() })
	var stdout, stderr syncBuffer
	st := NewStarter(StarterConfig{
		Forker: r, Env: []string{"PATH=/usr/bin:/bin"}, Poller: poller,
		Stdout: output.NewConsole(&stdout), Stderr: output.NewConsole(&stderr),
	})
	spec := testSpec("echo")
	spec.Cmd = []string{"/bin/sh", "-c", `read x; echo "out $TASKMASTER_INSTANCE $x"; echo err >&2; exit 3`}
	ring := output.NewRing(output.DefaultRingCapacity)
	exited := make(chan reaper.Exit, 1)
	pid, err := st.Start(&Proc{Name: "echo:0", Spec: spec, Ring: ring}, func(e reaper.Exit) { exited <- e })
	require.NoError(t, err)

	var e reaper.Exit
	require.Eventually(t, func() bool {
		r.Reap()
		select {
		case e = <-exited:
			return true
		default:
			return false
		}
	}, 10*time.Second, time.Millisecond)
	require.Equal(t, pid, e.Pid)
	require.Equal(t, 3, e.Code())
	kept := func() string { data, _, _ := ring.Since(0); return string(data) }
	require.Eventually(t, func() bool {
		return stdout.String() == "echo:0 | out echo:0 \n" && stderr.String() == "echo:0 | err\n" && len(kept()) == 16
	}, 10*time.Second, time.Millisecond, "stdout %q, stderr %q, ring %q", stdout.String(), stderr.String(), kept())
	require.ElementsMatch(t, []string{"out echo:0 \n", "err\n"}, strings.SplitAfter(kept(), "\n")[:2],
		"both streams reach the ring (stdin was /dev/null: read got nothing)")
}
