package pid1

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/web"
)

// Peers that connect to the HTTP listener and say nothing (a job as
// nobody can: the user check comes with the first request) cannot keep
// /healthz from answering: a newcomer takes the place of the silent
// connection that came first.
func TestHTTPSilentPeersCannotLockOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	al := newAllowListener(l, nil, 4)
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		ConnState:         al.connState,
		ReadHeaderTimeout: time.Minute, // not what frees the slots
	}
	go srv.Serve(al)
	t.Cleanup(func() { srv.Close() })
	addr := l.Addr().String()
	for range 8 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
	}
	require.Eventually(t, func() bool { return al.open() == 4 }, 10*time.Second, time.Millisecond)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "ok", string(body))
	require.LessOrEqual(t, al.open(), 4)
}

// Connections in the middle of a request keep their slots: with all of
// them busy, the newcomer is closed.
func TestHTTPBusyConnectionsKeepTheirSlots(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	al := newAllowListener(l, nil, 2)
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			<-release
			io.WriteString(w, "ok")
		}),
		ConnState: al.connState,
	}
	go srv.Serve(al)
	t.Cleanup(func() { close(release); srv.Close() })
	addr := l.Addr().String()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range 2 {
		go client.Get("http://" + addr + "/")
		<-started
	}
	_, err = client.Get("http://" + addr + "/")
	require.Error(t, err, "no slot for a third")
}

// A live link (a hijacked connection) whose client has not registered has
// not said who it is: it makes room for a newcomer like a connection that
// has sent nothing. One that has registered keeps its slot.
func TestHTTPUnregisteredLinksMakeRoom(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	al := newAllowListener(l, nil, 2)
	hijacked := make(chan net.Conn, 2)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/" {
				io.WriteString(w, "ok")
				return
			}
			nc, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			if r.URL.Path == "/registered" {
				nc.(web.LinkRegistrar).LinkRegistered()
			}
			hijacked <- nc
		}),
		ConnState: al.connState,
	}
	go srv.Serve(al)
	t.Cleanup(func() { srv.Close() })
	addr := l.Addr().String()
	link := func(path string) net.Conn {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		_, err = io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		select {
		case nc := <-hijacked:
			t.Cleanup(func() { nc.Close() })
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: not hijacked within 10 s: the listener closed it (%d slots taken)", path, al.open())
		}
		return c
	}
	unregistered := link("/unregistered")
	link("/registered")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + "/")
	require.NoError(t, err, "the unregistered link made room")
	resp.Body.Close()
	require.NoError(t, unregistered.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = unregistered.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the unregistered link was closed")

	// The client has the GET's response before the server has closed its
	// end and given its slot back.
	require.Eventually(t, func() bool { return al.open() < 2 }, 10*time.Second, time.Millisecond,
		"the GET's connection gives its slot back")
	link("/registered") // takes the slot the GET left
	_, err = client.Get("http://" + addr + "/")
	require.Error(t, err, "registered links keep their slots")
}
