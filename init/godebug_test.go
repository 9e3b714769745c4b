package pid1

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestJobEnvironmentRestoresGODEBUG(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // GODEBUG jobs get; "" for none
	}{
		{"set by OwnSIGURG over nothing", map[string]string{"GODEBUG": noPreempt, origGODEBUG: ""}, ""},
		{"set by OwnSIGURG over the user's", map[string]string{"GODEBUG": "x=1," + noPreempt, origGODEBUG: "x=1"}, "x=1"},
		{"set by the user", map[string]string{"GODEBUG": noPreempt}, noPreempt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			t.Setenv("TASKMASTER_TOKEN", "secret")
			env := jobEnvironment()
			var got string
			for _, kv := range env {
				if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
					got = v
				}
				require.False(t, strings.HasPrefix(kv, "TASKMASTER_TOKEN="), "the token reached the jobs")
				require.False(t, strings.HasPrefix(kv, origGODEBUG+"="))
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// taskmasterd's own NOTIFY_SOCKET (when systemd runs it) is not the jobs':
// a job that used it would speak for taskmasterd.
func TestJobEnvironmentDropsNotifySocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	t.Setenv("WATCHDOG_USEC", "1000000")
	t.Setenv("WATCHDOG_PID", "1")
	t.Setenv("KEEP_ME", "1")
	env := jobEnvironment()
	require.Contains(t, env, "KEEP_ME=1")
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		require.NotContains(t, []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"}, name)
	}
}

// A job, even one running as nobody, reads its own environment in /proc:
// taskmasterd's secrets must not be in it.
func TestJobEnvironmentHasNoSecrets(t *testing.T) {
	t.Setenv("TASKMASTER_TOKEN", "control-secret")
	t.Setenv("TASKMASTER_AGENT_SECRET", "agent-secret")
	t.Setenv("TASKMASTER_AGENT_SECRET_FILE", "/run/secrets/agent") // a path, not a secret
	env := jobEnvironment()
	require.Contains(t, env, "TASKMASTER_AGENT_SECRET_FILE=/run/secrets/agent")
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		require.NotContains(t, []string{"TASKMASTER_TOKEN", "TASKMASTER_AGENT_SECRET"}, name, "a secret reached the jobs")
	}
}
