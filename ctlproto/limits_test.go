package ctlproto

import (
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

	// An active connection stays open past the timeout.
	busy := dialRaw(t, addr)
	for range 4 {
		require.Equal(t, `{"response":"success"};;`, exchange(t, busy, `{"command":"restart"};;`))
		time.Sleep(100 * time.Millisecond)
	}
}

func TestServerMaxConns(t *testing.T) {
	leakCheck(t)
	var logs logBuffer
	addr := startServer(t, &Server{Handler: &fakeHandler{}, MaxConns: 2, Logger: newLogger(&logs)})
	first, second := dialRaw(t, addr), dialRaw(t, addr)
	// A reply proves the server has counted the connection.
	require.Equal(t, `{"response":"success"};;`, exchange(t, first, `{"command":"restart"};;`))
	require.Equal(t, `{"response":"success"};;`, exchange(t, second, `{"command":"restart"};;`))

	third := dialRaw(t, addr)
	require.Equal(t, `{"response":"fail","error":"`+b64("too many connections")+`"};;`, readReply(t, third))
	requireClosed(t, third)
	require.Contains(t, logs.String(), "too many connections")

	// Once one leaves, a new connection is served.
	first.Close()
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Write([]byte(`{"command":"restart"};;`))
		got, _ := readAll(c)
		return strings.HasPrefix(got, `{"response":"success"};;`)
	}, 5*time.Second, 20*time.Millisecond)
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

func TestServerToken(t *testing.T) {
	leakCheck(t)
	h := &fakeHandler{}
	c := dialRaw(t, startServer(t, &Server{Handler: h, Token: "s3cret"}))
	tests := []struct{ name, send, want string }{
		{"missing", `{"command":"restart"};;`, `{"response":"fail","error":"` + b64("authentication required") + `"};;`},
		{"empty", `{"command":"restart","token":""};;`, `{"response":"fail","error":"` + b64("authentication required") + `"};;`},
		{"wrong", `{"command":"restart","token":"s3cre"};;`, `{"response":"fail","error":"` + b64("bad token") + `"};;`},
		{"base64 of right is wrong", `{"command":"restart","token":"` + b64("s3cret") + `"};;`, `{"response":"fail","error":"` + b64("bad token") + `"};;`},
		{"right", `{"command":"restart","token":"s3cret"};;`, `{"response":"success"};;`},
		{"right, cmd alias", `{"cmd":"restart","job":"","data":"","token":"s3cret"};;`, `{"response":"success"};;`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, exchange(t, c, tt.send))
		})
	}
	require.Len(t, h.requests(), 2)
}

func TestServerTokenIgnoredWhenUnset(t *testing.T) {
	leakCheck(t)
	c := dialRaw(t, startServer(t, &Server{Handler: &fakeHandler{}}))
	require.Equal(t, `{"response":"success"};;`, exchange(t, c, `{"command":"restart","token":"whatever"};;`))
}
