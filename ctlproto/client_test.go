package ctlproto

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestClientAgainstServer(t *testing.T) {
	leakCheck(t)
	h := &fakeHandler{}
	addr := startServer(t, &Server{Handler: h, Token: "tok"})
	ctx := context.Background()
	c, err := Dial(ctx, addr, "tok")
	require.NoError(t, err)
	defer c.Close()

	resp, err := c.Do(ctx, &Request{Command: CmdPull, Job: "a/b"})
	require.NoError(t, err)
	require.Equal(t, File("a/b", []byte(`{"cmd":"/bin/true"}`)), resp)

	resp, err = c.Do(ctx, &Request{Command: CmdList})
	require.NoError(t, err)
	names, err := DecodeJobList(resp.Data)
	require.NoError(t, err)
	require.Equal(t, []string{"nginx", "apache2"}, names)

	resp, err = c.Do(ctx, &Request{Command: "frobnicate"})
	require.NoError(t, err, "an invalid reply is a Response, not an error")
	require.Equal(t, Invalid(`unknown command "frobnicate"`), resp)

	resp, err = c.Do(ctx, &Request{Command: CmdStart, Job: "running", Token: "other"})
	require.NoError(t, err)
	require.Equal(t, Failf("bad token"), resp, "a request's own token wins")

	require.Equal(t, Request{Command: CmdPull, Job: "a/b", Token: "tok"}, h.requests()[0])
}

// The client must hold its own against a server that pads replies with
// CR/LF the way the original daemon may.
func TestClientReadsPaddedReplies(t *testing.T) {
	leakCheck(t)
	l := mustListen(t)
	defer l.Close()
	sent := make(chan string, 1)
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		buf := make([]byte, 256)
		n, _ := nc.Read(buf)
		sent <- string(buf[:n])
		nc.Write([]byte("\r\n{\"response\" : \"list\",\r\n\"list\":\"W10=\"}\r\n;;\r\n"))
	}()
	c, err := Dial(context.Background(), l.Addr().String(), "")
	require.NoError(t, err)
	defer c.Close()
	resp, err := c.Do(context.Background(), &Request{Command: CmdList})
	require.NoError(t, err)
	require.Equal(t, &Response{Kind: KindList, Data: []byte("[]")}, resp)
	require.Equal(t, `{"command":"list","job":"","data":""};;`, <-sent)
}

func TestClientDeadline(t *testing.T) {
	leakCheck(t)
	h := &fakeHandler{delay: func(*Request) time.Duration { return time.Second }}
	addr := startServer(t, &Server{Handler: h})
	c, err := Dial(context.Background(), addr, "")
	require.NoError(t, err)
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.Do(ctx, &Request{Command: CmdRestart})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, addr)

	// The late reply would be taken for the next one's: the client refuses.
	_, err = c.Do(context.Background(), &Request{Command: CmdRestart})
	require.ErrorContains(t, err, "unusable")
}

func TestClientCancel(t *testing.T) {
	leakCheck(t)
	h := &fakeHandler{delay: func(*Request) time.Duration { return time.Second }}
	addr := startServer(t, &Server{Handler: h})
	c, err := Dial(context.Background(), addr, "")
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = c.Do(ctx, &Request{Command: CmdRestart})
	require.ErrorIs(t, err, context.Canceled)
}

func TestDialError(t *testing.T) {
	l := mustListen(t)
	addr := l.Addr().String()
	l.Close()
	_, err := Dial(context.Background(), addr, "")
	require.ErrorContains(t, err, addr)
	var opErr *net.OpError
	require.True(t, errors.As(err, &opErr))
}

func TestWithDefaultPort(t *testing.T) {
	for in, want := range map[string]string{
		"localhost":      "localhost:7777",
		"127.0.0.1":      "127.0.0.1:7777",
		"::1":            "[::1]:7777",
		"[::1]":          "[::1]:7777",
		"[::1]:9":        "[::1]:9",
		"example.org:80": "example.org:80",
	} {
		require.Equal(t, want, withDefaultPort(in), in)
	}
}
