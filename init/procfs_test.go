package pid1

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDescendantsFollowsParents(t *testing.T) {
	proc := t.TempDir()
	for pid, stat := range map[int]string{
		1:  "(init) S 0",
		10: "(tm) S 1",
		11: "(job) S 10",
		12: "(grand child) S 11",
		13: "(zombie) Z 10",
		20: "(other) S 1",
	} {
		dir := filepath.Join(proc, fmt.Sprint(pid))
		require.NoError(t, os.MkdirAll(dir, 0o755))
		line := fmt.Sprintf("%d %s %d 0 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n", pid, stat, pid)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "stat"), []byte(line), 0o644))
	}
	got := descendants(proc, 10)
	slices.Sort(got)
	require.Equal(t, []int{11, 12}, got)
}
