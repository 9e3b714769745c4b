package procfs

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	st, err := ParseStat([]byte("42 (my (odd) prog) S 7 40 40 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n"))
	require.NoError(t, err)
	require.Equal(t, Stat{State: 'S', Ppid: 7, Pgid: 40, Start: 12345}, st)
	st, err = ParseStat([]byte("43 (x) Z 1 43 43 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7 0 0"))
	require.NoError(t, err)
	require.True(t, st.Zombie())
	for _, bad := range []string{"garbage", "44 (x) S 1 2", "45 (x) S one 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"} {
		_, err := ParseStat([]byte(bad))
		require.Error(t, err, bad)
	}
}

// This process, read from the real /proc.
func TestReadStatOfItself(t *testing.T) {
	st, err := ReadStat("/proc", os.Getpid())
	require.NoError(t, err)
	require.Equal(t, os.Getppid(), st.Ppid)
	require.NotZero(t, st.Start)
	_, err = ReadStat(t.TempDir(), 1)
	require.ErrorIs(t, err, ErrNoProcess)
	require.Contains(t, All("/proc"), os.Getpid())
}
