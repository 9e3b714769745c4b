package ctlproto

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestServerMessageTooLarge(t *testing.T) {
	leakCheck(t)
	h := &fakeHandler{}
	addr := startServer(t, &Server{Handler: h, MaxMessage: 1024})
	c := dialRaw(t, addr)

	// Exactly at the limit is fine.
	head := `{"command":"push","job":"YQ==","data":"`
	fits := head + strings.Repeat("A", 1024-len(head)-2) + `"}`
	require.Len(t, fits, 1024)
	require.Equal(t, `{"response":"success"};;`, exchange(t, c, fits+";;"))

	// Larger is refused and the connection closed, even while the peer is
	// still sending.
	big := head + strings.Repeat("A", 4<<20) + `"};;`
	go c.Write([]byte(big)) // fails once the server closes
	require.Equal(t, `{"response":"fail","error":"`+b64("message too large (limit 1024 bytes)")+`"};;`, readReply(t, c))
	requireClosed(t, c)
	require.Len(t, h.requests(), 1)

	// The server goes on serving others.
	require.Equal(t, `{"response":"success"};;`, exchange(t, dialRaw(t, addr), `{"command":"restart"};;`))
}

func TestServerIdleTimeout(t *testing.T) {
	leakCheck(t)
	addr := startServer(t, &Server{Handler: &fakeHandler{}, IdleTimeout: 200 * time.Millisecond})

	idle := dialRaw(t, addr)
	start := time.Now()
	requireClosed(t, idle)
	require.Less(t, time.Since(start), 5*time.Second)

	// A message trickling in slower than the timeout does not keep the
	// connection: the whole message must arrive in time.
	slow := dialRaw(t, addr)
	for _, part := range []string{`{"comm`, `and":`, `"list"`} {
		if _, err := slow.Write([]byte(part)); err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	requireClosed(t, slow)

	// An active connection stays open past the timeout: a request every
	// tenth of it, for longer than it. The timeout is longer here, so that
	// the gaps stay inside it even when a loaded machine stalls the test
	// (gaps of 100ms against 200ms were seen to run out).
	const activeIdle = time.Second
	busy := dialRaw(t, startServer(t, &Server{Handler: &fakeHandler{}, IdleTimeout: activeIdle}))
	for start := time.Now(); time.Since(start) < activeIdle*3/2; {
		require.Equal(t, `{"response":"success"};;`, exchange(t, busy, `{"command":"restart"};;`))
		time.Sleep(activeIdle / 10)
	}
}

// With every slot held by a connection that cannot be evicted (one in the
// middle of a request, one not admitted yet), a newcomer gets fail and is
// closed; once a request ends, its connection can make room.
func TestServerMaxConns(t *testing.T) {
	leakCheck(t)
	var logs logBuffer
	release := make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, req *Request) *Response {
		if req.Job == "slow" {
			<-release
		}
		return Success()
	})
	s := &Server{Handler: h, MaxConns: 2, Logger: newLogger(&logs)}
	addr := startServer(t, s)
	t.Cleanup(func() { closeOnce(release) })
	busy := dialRaw(t, addr)
	_, err := busy.Write([]byte(`{"command":"wait","job":"` + b64("slow") + `","data":"e30="};;`))
	require.NoError(t, err)
	silent := dialRaw(t, addr)
	awaitConns(t, s, 2, 0)
	awaitWaiting(t, s, 1)

	// A connection not admitted yet (it has said nothing) gives way to a
	// newcomer when there is no admitted idle one: peers that connect and
	// say nothing cannot keep every slot taken.
	third := dialRaw(t, addr)
	require.Equal(t, `{"response":"fail","error":"`+b64("evicted: too many connections")+`"};;`, readReply(t, silent))
	requireClosed(t, silent)
	require.Equal(t, `{"response":"success"};;`, exchange(t, third, `{"command":"restart"};;`))
	require.Contains(t, logs.String(), "too many connections")

	// An admitted idle connection gives way too.
	awaitConns(t, s, 2, 1)
	fourth := dialRaw(t, addr)
	require.Equal(t, `{"response":"fail","error":"`+b64("evicted: too many connections")+`"};;`, readReply(t, third))
	requireClosed(t, third)
	_, err = fourth.Write([]byte(`{"command":"wait","job":"` + b64("slow") + `","data":"e30="};;`))
	require.NoError(t, err)

	// Connections in the middle of a request never do: with every slot
	// busy, the newcomer is refused.
	awaitWaiting(t, s, 0)
	fifth := dialRaw(t, addr)
	require.Equal(t, `{"response":"fail","error":"`+b64("too many connections")+`"};;`, readReply(t, fifth))
	requireClosed(t, fifth)
	close(release)
	require.Equal(t, `{"response":"success"};;`, readReply(t, busy))
	require.Equal(t, `{"response":"success"};;`, readReply(t, fourth))
}

// With a token, silent peers (any local user, a job as nobody) cannot lock
// the control port: each newcomer takes the place of the silent one that
// came first, and a client with the token gets in.
func TestServerSilentPeersCannotLockOut(t *testing.T) {
	leakCheck(t)
	s := &Server{Handler: &fakeHandler{}, Token: "tok", MaxConns: 4}
	addr := startServer(t, s)
	for range 8 {
		dialRaw(t, addr)
	}
	awaitWaiting(t, s, 4)
	c := dialRaw(t, addr)
	require.Equal(t, `{"response":"success"};;`, exchange(t, c, `{"command":"restart","token":"tok"};;`))
}

// awaitWaiting waits until n connections wait for a message.
func awaitWaiting(t *testing.T, s *Server, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		got := 0
		for c := range s.conns {
			if c.reading && !c.leaving {
				got++
			}
		}
		return got == n
	}, 10*time.Second, time.Millisecond, "want %d connections waiting for a message", n)
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// readAll reads one reply, or whatever comes before the connection ends.
func readAll(c net.Conn) (string, error) {
	var got []byte
	buf := make([]byte, 256)
	for !strings.HasSuffix(string(got), ";;") {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return string(got), err
		}
	}
	return string(got), nil
}

func TestServerAllowlistRefuses(t *testing.T) {
	leakCheck(t)
	var logs logBuffer
	h := &fakeHandler{}
	addr := startServer(t, &Server{
		Handler: h,
		Allow:   []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Logger:  newLogger(&logs),
	})
	for range 5 {
		c := dialRaw(t, addr)
		c.Write([]byte(`{"command":"restart"};;`))
		requireClosed(t, c)
	}
	require.Empty(t, h.requests())
	// Five refusals within a second make one log line, naming the peer.
	require.Equal(t, 1, logs.count("refused connection"), logs.String())
	require.Contains(t, logs.String(), "peer=127.0.0.1:")
}

func TestServerAllowlistAdmits(t *testing.T) {
	leakCheck(t)
	allow, err := ParseAllow("10.0.0.0/8, 127.0.0.1")
	require.NoError(t, err)
	c := dialRaw(t, startServer(t, &Server{Handler: &fakeHandler{}, Allow: allow}))
	require.Equal(t, `{"response":"success"};;`, exchange(t, c, `{"command":"restart"};;`))
}

// A request without the right token gets fail and its connection is
// closed; one with it is served, and the connection stays.
func TestServerToken(t *testing.T) {
	leakCheck(t)
	h := &fakeHandler{}
	addr := startServer(t, &Server{Handler: h, Token: "s3cret"})
	refused := []struct{ name, send, want string }{
		{"missing", `{"command":"restart"};;`, "authentication required"},
		{"empty", `{"command":"restart","token":""};;`, "authentication required"},
		{"wrong", `{"command":"restart","token":"s3cre"};;`, "bad token"},
		{"base64 of right is wrong", `{"command":"restart","token":"` + b64("s3cret") + `"};;`, "bad token"},
		{"unknown command, no token", `{"command":"frob"};;`, "authentication required"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			require.Equal(t, `{"response":"fail","error":"`+b64(tt.want)+`"};;`, exchange(t, c, tt.send))
			requireClosed(t, c)
		})
	}
	admitted := []struct{ name, send string }{
		{"right", `{"command":"restart","token":"s3cret"};;`},
		{"right, cmd alias", `{"cmd":"restart","job":"","data":"","token":"s3cret"};;`},
	}
	for _, tt := range admitted {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			require.Equal(t, `{"response":"success"};;`, exchange(t, c, tt.send))
			require.Equal(t, `{"response":"success"};;`, exchange(t, c, tt.send))
		})
	}
	require.Len(t, h.requests(), 4)

	// Once admitted, a connection that forgets the token is closed too.
	c := dialRaw(t, addr)
	require.Equal(t, `{"response":"success"};;`, exchange(t, c, `{"command":"restart","token":"s3cret"};;`))
	require.Equal(t, `{"response":"fail","error":"`+b64("bad token")+`"};;`, exchange(t, c, `{"command":"restart","token":"x"};;`))
	requireClosed(t, c)
}

func TestServerTokenIgnoredWhenUnset(t *testing.T) {
	leakCheck(t)
	c := dialRaw(t, startServer(t, &Server{Handler: &fakeHandler{}}))
	require.Equal(t, `{"response":"success"};;`, exchange(t, c, `{"command":"restart","token":"whatever"};;`))
}

func TestSameToken(t *testing.T) {
	tests := []struct {
		got, want string
		same      bool
	}{
		{"s3cret", "s3cret", true},
		{"s3cres", "s3cret", false},
		{"s3cre", "s3cret", false},
		{"s3crets3cret", "s3cret", false}, // the token twice: longer, same bytes in turn
		{"", "s3cret", false},
		{"", "", true},
		{"x", "", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.same, sameToken(tt.got, tt.want), "sameToken(%q, %q)", tt.got, tt.want)
	}
}
