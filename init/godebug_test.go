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
