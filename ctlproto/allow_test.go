package ctlproto

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseAllow(t *testing.T) {
	got, err := ParseAllow(" 10.1.2.3/8, 192.168.1.7 ,::1, fd00::/8,::ffff:127.0.0.1,,")
	require.NoError(t, err)
	var want []netip.Prefix
	for _, p := range []string{"10.0.0.0/8", "192.168.1.7/32", "::1/128", "fd00::/8", "127.0.0.1/32"} {
		want = append(want, netip.MustParsePrefix(p))
	}
	require.Equal(t, want, got)

	got, err = ParseAllow("")
	require.NoError(t, err)
	require.Empty(t, got)

	for _, bad := range []string{"10.0.0.0/33", "example.org", "10.0.0.0/8,nope", "1.2.3"} {
		_, err := ParseAllow(bad)
		require.Error(t, err, bad)
	}
	_, err = ParseAllow("10.0.0.0/8, nope")
	require.ErrorContains(t, err, `"nope"`)
}

func TestCheckListen(t *testing.T) {
	allow := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, addr := range []string{"127.0.0.1:7777", "localhost:7777", "[::1]:7777", "127.1.2.3:1", "LOCALHOST:1", "127.0.0.1"} {
		require.NoError(t, CheckListen(addr, nil, ""), addr)
	}
	for _, addr := range []string{":7777", "0.0.0.0:7777", "[::]:7777", "192.168.1.2:7777", "example.org:7777", "[::ffff:0.0.0.0]:1"} {
		err := CheckListen(addr, nil, "")
		require.ErrorContains(t, err, "-allow CIDR", addr)
		require.ErrorContains(t, err, "-token", addr)
		require.NoError(t, CheckListen(addr, allow, ""), addr)
		require.NoError(t, CheckListen(addr, nil, "secret"), addr)
	}
}

func TestPeerAllowed(t *testing.T) {
	ten := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		allow []netip.Prefix
		peer  string
		want  bool
	}{
		{nil, "127.0.0.1:5", true},
		{nil, "127.9.9.9:5", true},
		{nil, "[::1]:5", true},
		{nil, "[::ffff:127.0.0.1]:5", true},
		{nil, "10.1.1.1:5", false},
		{nil, "[fe80::1%lo]:5", false},
		{ten, "127.0.0.1:5", false},
		{ten, "10.1.1.1:5", true},
		{ten, "[::ffff:10.1.1.1]:5", true},
		{[]netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}, "[::ffff:10.1.1.1]:5", true},
	}
	for _, tt := range tests {
		peer, err := net.ResolveTCPAddr("tcp", tt.peer)
		require.NoError(t, err)
		require.Equal(t, tt.want, peerAllowed(tt.allow, peer), "%v %s", tt.allow, tt.peer)
	}
	require.True(t, peerAllowed(nil, &net.UnixAddr{Name: "/run/tm.sock", Net: "unix"}))
}

func TestLogLimiter(t *testing.T) {
	var l logLimiter
	t0 := time.Unix(1000, 0)
	ok, n := l.allow(t0)
	require.True(t, ok)
	require.Zero(t, n)
	for i := range 5 {
		ok, _ = l.allow(t0.Add(time.Duration(i) * 100 * time.Millisecond))
		require.False(t, ok)
	}
	ok, n = l.allow(t0.Add(time.Second))
	require.True(t, ok)
	require.Equal(t, 5, n)
	ok, n = l.allow(t0.Add(3 * time.Second))
	require.True(t, ok)
	require.Zero(t, n)
}
