package jobs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// A refused connection reads as net.Dialer's did, which docs/jobs.md and
// check_error show.
func TestTCPCheckRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	err = tcpCheck(t.Context(), addr)
	require.EqualError(t, err, "dial tcp "+addr+": connect: connection refused")
	require.ErrorIs(t, err, unix.ECONNREFUSED)
}

// IPv6 literals and host names pass too; a host name goes through the
// resolver.
func TestTCPCheckAddresses(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		ln, err := net.Listen(network, map[string]string{"tcp4": "127.0.0.1:0", "tcp6": "[::1]:0"}[network])
		require.NoError(t, err, "%s on loopback", network)
		defer ln.Close()
		go acceptAll(ln)
		port := ln.Addr().(*net.TCPAddr).Port
		require.NoError(t, tcpCheck(t.Context(), ln.Addr().String()))
		if network == "tcp4" {
			require.NoError(t, tcpCheck(t.Context(), fmt.Sprintf("localhost:%d", port)))
		}
	}
}

func acceptAll(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// A service that does not answer at once (its accept queue full, so its
// kernel drops the SYN) is waited for through the poller until the
// check's timeout, which reads as "timed out after"; an abandoned run
// ends the wait at once.
func TestTCPCheckWaitsForASlowHandshake(t *testing.T) {
	addr := fullListener(t)
	spec := &jobfile.Probe{Kind: jobfile.ProbeTCP, Addr: addr, Timeout: 300 * time.Millisecond}
	ctx, cancel := context.WithTimeout(t.Context(), spec.Timeout)
	defer cancel()
	err := dialCheck(ctx, spec)
	require.EqualError(t, err, "timed out after 300ms")

	ctx, cancel = context.WithCancel(t.Context())
	ended := make(chan error, 1)
	go func() { ended <- tcpCheck(ctx, addr) }()
	cancel()
	select {
	case err := <-ended:
		require.True(t, errors.Is(err, context.Canceled), "%v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("an abandoned check went on waiting")
	}
}

// fullListener listens on loopback with a backlog of 0 and never accepts,
// then fills its accept queue with one connection.
func fullListener(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	require.NoError(t, unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, unix.Listen(fd, 0))
	sa, err := unix.Getsockname(fd)
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	// A backlog of 0 holds one connection (the kernel's queue is full once
	// it holds more than the backlog): the next SYN is dropped.
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return addr
}
