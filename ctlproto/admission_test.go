package ctlproto

import (
	"context"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Peers without the token cannot keep the token holder out: each one that
// asks without it is answered and closed at once, and so stops holding a
// slot.
func TestPeersWithoutTheTokenDoNotHoldSlots(t *testing.T) {
	leakCheck(t)
	s := &Server{Handler: &fakeHandler{}, Token: "s3cret"}
	addr := startServer(t, s)
	for i := range DefaultMaxConns {
		c := dialRaw(t, addr)
		send, want := `{"command":"list"};;`, "authentication required"
		if i%2 == 1 {
			send, want = `{"command":"list","token":"guess"};;`, "bad token"
		}
		require.Equal(t, `{"response":"fail","error":"`+b64(want)+`"};;`, exchange(t, c, send))
		// The peer keeps its end open, as an attacker would.
	}
	holder := dialRaw(t, addr)
	require.Equal(t, listReply(), exchange(t, holder, `{"command":"list","token":"s3cret"};;`))
}

// A connection that has not authenticated keeps the deadline of its start:
// sending requests that are not understood does not extend it.
func TestUnauthenticatedConnectionKeepsItsFirstDeadline(t *testing.T) {
	leakCheck(t)
	addr := startServer(t, &Server{Handler: &fakeHandler{}, Token: "s3cret", AuthTimeout: 100 * time.Millisecond})
	c := dialRaw(t, addr)
	require.Contains(t, exchange(t, c, `hello;;`), `{"response":"invalid"`)
	requireClosed(t, c) // by AuthTimeout, not IdleTimeout (five minutes)
}

// An authenticated connection waits IdleTimeout for each request, not
// AuthTimeout: it outlives an unauthenticated one that came after it.
func TestAuthenticatedConnectionGetsTheIdleTimeout(t *testing.T) {
	leakCheck(t)
	addr := startServer(t, &Server{Handler: &fakeHandler{}, Token: "s3cret", AuthTimeout: 100 * time.Millisecond})
	holder := dialRaw(t, addr)
	require.Equal(t, listReply(), exchange(t, holder, `{"command":"list","token":"s3cret"};;`))
	later := dialRaw(t, addr)
	requireClosed(t, later) // its AuthTimeout ran out, and so would have the holder's
	require.Equal(t, listReply(), exchange(t, holder, `{"command":"list","token":"s3cret"};;`))
}

// A local peer that passed the LocalUsers check is trusted: like the
// original client's shell, it may connect and send its first request much
// later. It outlives a stranger's connection made after it.
func TestTrustedLocalPeerMayWaitBeforeItsFirstRequest(t *testing.T) {
	leakCheck(t)
	const authTimeout = 100 * time.Millisecond
	s := &Server{Handler: &fakeHandler{}, LocalUsers: []uint32{uint32(os.Geteuid())}, AuthTimeout: authTimeout}
	shell := dialRaw(t, startServer(t, s))
	awaitOpen(t, s, 1) // checked and given its slot: its clock runs

	// Without LocalUsers nothing vouches for a peer before its first request.
	stranger := dialRaw(t, startServer(t, &Server{Handler: &fakeHandler{}, AuthTimeout: authTimeout}))
	requireClosed(t, stranger)
	require.Equal(t, listReply(), exchange(t, shell, `{"cmd":"list","job":"","data":""};;`))
}

// At capacity, a newcomer takes the place of the admitted connection that
// has waited longest for its next request; that one gets fail and is
// closed. A connection in the middle of a request is never chosen, however
// long it waited before that request.
func TestServerEvictsTheLongestIdleConnection(t *testing.T) {
	leakCheck(t)
	entered, release := make(chan struct{}), make(chan struct{})
	h := &fakeHandler{}
	slow := HandlerFunc(func(ctx context.Context, req *Request) *Response {
		if req.Job == "slow" {
			close(entered)
			<-release
		}
		return h.ServeCtl(ctx, req)
	})
	s := &Server{Handler: slow, MaxConns: 3}
	addr := startServer(t, s)
	t.Cleanup(func() { closeOnce(release) })

	busy, oldest, newer := dialRaw(t, addr), dialRaw(t, addr), dialRaw(t, addr)
	for _, c := range []net.Conn{busy, oldest, newer} {
		idle := s.countIdle()
		require.Equal(t, `{"response":"success"};;`, exchange(t, c, `{"command":"restart"};;`))
		awaitConns(t, s, 3, idle+1) // its idle time starts after the others'
	}
	_, err := busy.Write([]byte(`{"command":"pull","job":"` + b64("slow") + `"};;`))
	require.NoError(t, err)
	<-entered

	operator := dialRaw(t, addr)
	require.Equal(t, listReply(), exchange(t, operator, `{"command":"list"};;`))
	require.Equal(t, `{"response":"fail","error":"`+b64(evictedReason)+`"};;`, readReply(t, oldest))
	requireClosed(t, oldest)
	require.Equal(t, `{"response":"success"};;`, exchange(t, newer, `{"command":"restart"};;`))
	close(release)
	require.Equal(t, `{"response":"file","job":"`+b64("slow")+`","data":"`+b64(`{"cmd":"/bin/true"}`)+`"};;`, readReply(t, busy))
}

// A peer that connects and resets its connection at once leaves no socket
// behind to tell its user, and one that closes it leaves a socket nobody
// owns any more: either is refused on the kernel's word, without a search
// of /proc/net/tcp (milliseconds each under churn), and never holds a
// connection slot. Root is served meanwhile.
func TestGonePeersAreRefusedWithoutSearchingProc(t *testing.T) {
	leakCheck(t)
	lookups := watchDiagnostics(t)
	searches, unblock := blockProcSearches(t)
	s := &Server{Handler: &fakeHandler{}, LocalUsers: []uint32{uint32(os.Geteuid())}, MaxConns: 4}
	// The peers are gone before the server accepts them: they wait in the
	// listener's backlog, already reset.
	l := listen(t)
	var peers []netip.AddrPort
	for i := range 2 * s.MaxConns {
		peers = append(peers, dialAndLeave(t, l.Addr().String(), i%2 == 0))
	}
	addr := serveOn(t, s, l)
	t.Cleanup(unblock) // before the server's Shutdown
	root := dialRaw(t, addr)
	require.Equal(t, listReply(), exchange(t, root, `{"command":"list"};;`))
	for _, peer := range peers {
		lookups.await(t, peer)
	}
	// A search would hang, keeping its check in progress: wait for either.
	require.Eventually(t, func() bool { return s.checksInProgress() == 0 || searches.Load() > 0 },
		10*time.Second, time.Millisecond)
	require.Zero(t, searches.Load(), "searches of /proc/net/tcp")
}

// LocalUsers checks in progress do not hold connection slots; they are
// bounded on their own, and a newcomer beyond that bound is refused at once.
func TestPendingChecksDoNotHoldSlots(t *testing.T) {
	leakCheck(t)
	stall := stallDiagnostics(t)
	s := &Server{Handler: &fakeHandler{}, LocalUsers: []uint32{uint32(os.Geteuid())}, MaxConns: 2}
	addr := startServer(t, s)
	t.Cleanup(stall.release) // before the server's Shutdown
	for range s.MaxConns {
		dialRaw(t, addr)
	}
	stall.await(t, s.MaxConns)
	stall.set(false)
	root := dialRaw(t, addr)
	require.Equal(t, listReply(), exchange(t, root, `{"command":"list"};;`))

	stall.set(true)
	for range maxChecks - s.MaxConns {
		dialRaw(t, addr)
	}
	stall.await(t, maxChecks)
	excess := dialRaw(t, addr)
	require.Equal(t, `{"response":"fail","error":"`+b64("too many connections")+`"};;`, readReply(t, excess))
	requireClosed(t, excess)
}

// dialAndLeave connects to addr and closes the connection at once, as a
// peer churning connections does, resetting it if reset. It returns the
// peer's address.
func dialAndLeave(t *testing.T, addr string, reset bool) netip.AddrPort {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	peer := c.LocalAddr().(*net.TCPAddr).AddrPort()
	if reset {
		require.NoError(t, c.(*net.TCPConn).SetLinger(0)) // close sends RST
	}
	require.NoError(t, c.Close())
	return peer
}

// diagLookups records the sockets the server asks the kernel about.
type diagLookups struct {
	mu     sync.Mutex
	asked  map[netip.AddrPort]bool
	change chan struct{}
}

// watchDiagnostics records every lookup of the real socket diagnostics.
func watchDiagnostics(t *testing.T) *diagLookups {
	l := &diagLookups{asked: map[netip.AddrPort]bool{}, change: make(chan struct{}, 1)}
	fakeDiagnostics(t, func(local, remote netip.AddrPort) (uint32, bool, error) {
		uid, found, err := diagSocketUID(local, remote)
		l.mu.Lock()
		l.asked[local] = true
		l.mu.Unlock()
		select {
		case l.change <- struct{}{}:
		default:
		}
		return uid, found, err
	})
	return l
}

// await waits until the server has asked about the socket of peer.
func (l *diagLookups) await(t *testing.T, peer netip.AddrPort) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		asked := l.asked[peer]
		l.mu.Unlock()
		if asked {
			return
		}
		select {
		case <-l.change:
		case <-deadline:
			t.Fatalf("the server never looked up the socket of %s", peer)
		}
	}
}

// blockProcSearches makes every search of /proc/net/tcp wait until unblock
// is called, as searches do on a busy machine, and counts them.
func blockProcSearches(t *testing.T) (searches *atomic.Int64, unblock func()) {
	searches = new(atomic.Int64)
	blocked := make(chan struct{})
	procPeerLookup = func(local, remote netip.AddrPort) (uint32, bool) {
		searches.Add(1)
		<-blocked
		return procPeerUID(local, remote)
	}
	return searches, func() { closeOnce(blocked) }
}

// diagStall makes lookups of the socket diagnostics hang while it is set,
// until released.
type diagStall struct {
	mu       sync.Mutex
	stalling bool
	stalled  int
	released chan struct{}
}

func stallDiagnostics(t *testing.T) *diagStall {
	d := &diagStall{stalling: true, released: make(chan struct{})}
	fakeDiagnostics(t, func(local, remote netip.AddrPort) (uint32, bool, error) {
		d.mu.Lock()
		stall := d.stalling
		if stall {
			d.stalled++
		}
		d.mu.Unlock()
		if stall {
			<-d.released
		}
		return diagSocketUID(local, remote)
	})
	return d
}

func (d *diagStall) set(stalling bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stalling = stalling
}

func (d *diagStall) release() { closeOnce(d.released) }

// await waits until n lookups hang.
func (d *diagStall) await(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.stalled == n
	}, 10*time.Second, time.Millisecond, "want %d lookups stalled", n)
}
