package pid1

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	info, ok := parseStat([]byte("42 (my (odd) prog) S 7 42 42 0 -1"))
	require.True(t, ok)
	require.Equal(t, procInfo{ppid: 7}, info)
	info, ok = parseStat([]byte("43 (x) Z 1 0"))
	require.True(t, ok)
	require.True(t, info.zombie)
	_, ok = parseStat([]byte("garbage"))
	require.False(t, ok)
}

func TestDescendantsFollowsParents(t *testing.T) {
	proc := t.TempDir()
	for pid, stat := range map[string]string{
		"1":  "1 (init) S 0",
		"10": "10 (tm) S 1",
		"11": "11 (job) S 10",
		"12": "12 (grandchild) S 11",
		"13": "13 (zombie) Z 10",
		"20": "20 (other) S 1",
	} {
		require.NoError(t, os.MkdirAll(filepath.Join(proc, pid), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(proc, pid, "stat"), []byte(stat), 0o644))
	}
	got := descendants(proc, 10)
	slices.Sort(got)
	require.Equal(t, []int{11, 12}, got)
}
