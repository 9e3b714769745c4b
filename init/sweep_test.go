package pid1

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/internal/procfs"
)

// hasChildren sees a live child and a zombie, and leaves the zombie to
// whoever reaps: a wait4 for it afterwards still gets it.
func TestHasChildrenLeavesZombiesToTheReaper(t *testing.T) {
	before := hasChildren()
	pid, err := syscall.ForkExec("/bin/sleep", []string{"sleep", "1000"}, &syscall.ProcAttr{})
	require.NoError(t, err)
	require.True(t, hasChildren(), "a live child")
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(t, func() bool {
		st, err := procfs.ReadStat("/proc", pid)
		return err == nil && st.Zombie()
	}, 10*time.Second, time.Millisecond)
	require.True(t, hasChildren(), "a zombie child")
	got, err := syscall.Wait4(pid, nil, 0, nil)
	require.NoError(t, err)
	require.Equal(t, pid, got, "hasChildren must not reap")
	if !before {
		require.False(t, hasChildren(), "no child left")
	}
}
