package epoll

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Wait returns the descriptors that are ready, and fails once the instance
// is closed, even while it waits.
func TestWait(t *testing.T) {
	e, err := New()
	require.NoError(t, err)
	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK))
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	require.NoError(t, e.Ctl(unix.EPOLL_CTL_ADD, p[0], &unix.EpollEvent{Events: unix.EPOLLIN, Fd: 42}))

	_, err = unix.Write(p[1], []byte("x"))
	require.NoError(t, err)
	events := make([]unix.EpollEvent, 4)
	n, err := e.Wait(events)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, int32(42), events[0].Fd)

	var buf [1]byte
	_, err = unix.Read(p[0], buf[:])
	require.NoError(t, err)
	waited := make(chan error, 1)
	go func() {
		_, err := e.Wait(events)
		waited <- err
	}()
	require.NoError(t, e.Close())
	require.Error(t, <-waited)
}
