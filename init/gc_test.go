package pid1

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// The GC goal is lowered for a jobs directory only, and GOGC wins.
func TestGCIsTunedOnlyForJobs(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "") // restored after the test
	require.NoError(t, os.Unsetenv("GOGC"))

	tuneGC(Config{LoadJobs: false}) // plain single-command mode
	require.Equal(t, 100, debug.SetGCPercent(100), "single-command mode keeps Go's default")

	tuneGC(Config{LoadJobs: true})
	require.Equal(t, gcPercent, debug.SetGCPercent(100), "a jobs directory gets gcPercent")

	t.Setenv("GOGC", "200")
	tuneGC(Config{LoadJobs: true})
	require.Equal(t, 100, debug.SetGCPercent(100), "GOGC is the environment's to set")
}
