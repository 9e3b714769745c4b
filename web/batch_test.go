package web

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// countConn records each write it is given.
type countConn struct {
	net.Conn
	writes []string
}

func (c *countConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func TestBatchConnHoldsUntilFlush(t *testing.T) {
	under := &countConn{}
	c := &batchConn{Conn: under}
	_, _ = c.Write([]byte("a"))
	require.Equal(t, []string{"a"}, under.writes, "not held: written at once")
	c.Hold()
	_, _ = c.Write([]byte("b"))
	_, _ = c.Write([]byte("c"))
	require.Equal(t, []string{"a"}, under.writes, "held: kept")
	require.NoError(t, c.Flush())
	require.Equal(t, []string{"a", "bc"}, under.writes, "one write for what was held")
	_, _ = c.Write([]byte("d"))
	require.Equal(t, []string{"a", "bc", "d"}, under.writes, "Flush stops holding")
	require.NoError(t, c.Flush())
	require.Len(t, under.writes, 3, "nothing held: nothing written")
}

func TestBatchConnBoundsWhatItHolds(t *testing.T) {
	under := &countConn{}
	c := &batchConn{Conn: under}
	c.Hold()
	big := make([]byte, maxBatch-1)
	_, _ = c.Write(big)
	_, _ = c.Write([]byte("xy"))
	require.Len(t, under.writes, 1, "over the bound: what was held goes out first")
	require.Len(t, under.writes[0], maxBatch-1)
	_, _ = c.Write(make([]byte, maxBatch+1))
	require.Len(t, under.writes, 3, "a message over the bound: the held part, then it, directly")
	require.NoError(t, c.Flush())
	require.Len(t, under.writes, 3)
}
