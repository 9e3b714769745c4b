package ctlproto

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1E61":                         "127.0.0.1:7777",
		"00000000:0000":                         "0.0.0.0:0",
		"00000000000000000000000001000000:1E61": "[::1]:7777",
		"0000000000000000FFFF00000100007F:D431": "127.0.0.1:54321", // IPv4-mapped
	} {
		got, ok := parseProcAddr(in)
		require.True(t, ok, in)
		require.Equal(t, netip.MustParseAddrPort(want), got, in)
	}
	for _, bad := range []string{"", "0100007F", "zz00007F:1E61", "0100007F:zz", "01007F:1E61"} {
		_, ok := parseProcAddr(bad)
		require.False(t, ok, bad)
	}
}

func TestFindSocketUID(t *testing.T) {
	table := filepath.Join(t.TempDir(), "tcp")
	require.NoError(t, os.WriteFile(table, []byte(
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"+
			"   0: 0100007F:1E61 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"+
			"   1: 0100007F:D431 0100007F:1E61 01 00000000:00000000 00:00000000 00000000 65534        0 2 1\n"), 0o644))
	uid, ok := findSocketUID(table, netip.MustParseAddrPort("127.0.0.1:54321"), netip.MustParseAddrPort("127.0.0.1:7777"))
	require.True(t, ok)
	require.Equal(t, uint32(65534), uid)
	_, ok = findSocketUID(table, netip.MustParseAddrPort("127.0.0.1:54322"), netip.MustParseAddrPort("127.0.0.1:7777"))
	require.False(t, ok)
}

// The owner of the other end of a real loopback connection is found: here
// the test itself.
func TestLocalPeerUIDOfALoopbackConnection(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	server, err := l.Accept()
	require.NoError(t, err)
	defer server.Close()
	uid, local := localPeerUID(server)
	require.True(t, local)
	require.Equal(t, uint32(os.Geteuid()), uid)
}

// A local peer whose user is not allowed gets fail and is closed; one that
// is allowed is served.
func TestLocalUsersRefusesOtherUsers(t *testing.T) {
	me := uint32(os.Geteuid())
	refusing := startServer(t, &Server{Handler: &fakeHandler{}, LocalUsers: []uint32{me + 4242}})
	nc := dialRaw(t, refusing)
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	reply, err := NewFrameReader(nc, 0).Next()
	require.NoError(t, err)
	resp, err := DecodeResponse(reply)
	require.NoError(t, err)
	require.Equal(t, KindFail, resp.Kind)
	require.Contains(t, resp.Error, "permission denied: uid")

	admitting := startServer(t, &Server{Handler: &fakeHandler{}, LocalUsers: []uint32{me}})
	c, err := Dial(t.Context(), admitting, "")
	require.NoError(t, err)
	defer c.Close()
	resp, err = c.Do(t.Context(), &Request{Command: CmdList})
	require.NoError(t, err)
	require.Equal(t, KindList, resp.Kind)
}

// A closed socket lingers in the table without an inode and as root's: it
// must not count as the peer.
func TestFindSocketUIDSkipsClosedSockets(t *testing.T) {
	table := filepath.Join(t.TempDir(), "tcp")
	require.NoError(t, os.WriteFile(table, []byte(
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"+
			"   1: 0100007F:D431 0100007F:1E61 05 00000000:00000000 00:00000000 00000000     0        0 0 1\n"), 0o644))
	_, ok := findSocketUID(table, netip.MustParseAddrPort("127.0.0.1:54321"), netip.MustParseAddrPort("127.0.0.1:7777"))
	require.False(t, ok)
}

// A peer of this machine whose socket cannot be found (it closed before
// the check) is refused: the check fails closed.
func TestLocalUsersFailsClosed(t *testing.T) {
	saved, savedDiag := procNetTCP, socketDiagnostics
	procNetTCP = []string{filepath.Join(t.TempDir(), "no-such-table")}
	socketDiagnostics = func(netip.AddrPort, netip.AddrPort) (uint32, bool, error) { return 0, false, errDiagUnknown }
	t.Cleanup(func() { procNetTCP, socketDiagnostics = saved, savedDiag })
	addr := startServer(t, &Server{Handler: &fakeHandler{}, LocalUsers: []uint32{uint32(os.Geteuid())}})
	nc := dialRaw(t, addr)
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	reply, err := NewFrameReader(nc, 0).Next()
	require.NoError(t, err)
	resp, err := DecodeResponse(reply)
	require.NoError(t, err)
	require.Equal(t, "permission denied: cannot tell which user connects", resp.Error)
}

// Asked for a connection that does not exist, the kernel answers with a
// listening socket on its local address, the way it routes a packet: a
// listener is nobody's peer, so that answer means "gone".
func TestSocketDiagnosticsDoNotTakeAListenerForAPeer(t *testing.T) {
	l := listen(t)
	defer l.Close()
	listening := l.Addr().(*net.TCPAddr).AddrPort()
	_, found, err := diagSocketUID(listening, netip.MustParseAddrPort("127.0.0.1:9"))
	require.NoError(t, err, "the kernel answered with the listener")
	require.False(t, found)
}

// On a kernel without TCP socket diagnostics, where every lookup says "no
// entry", the user is still told by /proc/net/tcp.
func TestLocalUsersWithoutTCPSocketDiagnostics(t *testing.T) {
	leakCheck(t)
	fakeDiagnostics(t, func(netip.AddrPort, netip.AddrPort) (uint32, bool, error) {
		return 0, false, errDiagNoEntry
	})
	var searches atomic.Int64
	procPeerLookup = func(local, remote netip.AddrPort) (uint32, bool) {
		searches.Add(1)
		return procPeerUID(local, remote)
	}
	addr := startServer(t, &Server{Handler: &fakeHandler{}, LocalUsers: []uint32{uint32(os.Geteuid())}})
	require.Equal(t, listReply(), exchange(t, dialRaw(t, addr), `{"command":"list"};;`))
	require.Equal(t, int64(1), searches.Load())
}

// fakeDiagnostics replaces the socket diagnostics for the test, and forgets
// that they have worked before.
func fakeDiagnostics(t *testing.T, f func(local, remote netip.AddrPort) (uint32, bool, error)) {
	savedDiag, savedProc, savedWorks := socketDiagnostics, procPeerLookup, diagWorks.Load()
	socketDiagnostics = f
	diagWorks.Store(false)
	t.Cleanup(func() {
		socketDiagnostics, procPeerLookup = savedDiag, savedProc
		diagWorks.Store(savedWorks)
	})
}
