package web

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/link"
)

// getHost sends GET url with the Host (and Origin, when not empty) a
// browser would send, and returns the status.
func getHost(t *testing.T, url, host, origin string, upgrade bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	req.Host = host
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if upgrade {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// A web page whose name the attacker points at 127.0.0.1 (DNS rebinding)
// is of the same origin as its requests: the Origin check lets it through.
// Without a token nothing else would stop it, so the link and /metrics
// answer only under an address, localhost, or a name of -http-origins.
func TestRebindingNamesAreRefusedWithoutAToken(t *testing.T) {
	s := &Server{Status: statusOf(), Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "m") }),
		Origins: []string{"dash.example.com", "*.corp.example"}}
	url := serve(t, s)
	port := url[strings.LastIndex(url, ":"):]
	for _, tc := range []struct {
		host string
		want int
	}{
		{"evil.example" + port, http.StatusForbidden},
		{"evil.example", http.StatusForbidden},
		{"127.0.0.1" + port, http.StatusOK},
		{"[::1]" + port, http.StatusOK},
		{"localhost" + port, http.StatusOK},
		{"app.localhost" + port, http.StatusOK},
		{"dash.example.com" + port, http.StatusOK},
		{"DASH.example.com", http.StatusOK},
		{"x.corp.example" + port, http.StatusOK},
	} {
		code, body := getHost(t, url+"/metrics", tc.host, "", false)
		require.Equal(t, tc.want, code, "%s: %s", tc.host, body)
		if code == http.StatusForbidden {
			require.Contains(t, body, "-http-origins")
		}
	}
	// The dashboard's files and /healthz stay open: nothing to steal there,
	// and health probes by name keep working.
	code, _ := getHost(t, url+"/healthz", "evil.example"+port, "", false)
	require.Equal(t, http.StatusOK, code)
}

// The link from a page of a rebound name: the upgrade goes through (a
// fleet agent may join under the manager's name, with its secret), and
// register_control is refused, with the reason.
func TestRebindingPageCannotRegister(t *testing.T) {
	ops := ctlproto.HandlerFunc(func(context.Context, *ctlproto.Request) *ctlproto.Response {
		t.Error("a request reached the operations")
		return ctlproto.Success()
	})
	url := serve(t, &Server{Status: statusOf(), Link: &link.Server{Ops: ops}})
	port := url[strings.LastIndex(url, ":"):]
	host := "evil.example" + port
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/api/socket",
		&websocket.DialOptions{Host: host, HTTPHeader: http.Header{"Origin": {"http://" + host}}})
	require.NoError(t, err)
	defer c.CloseNow()
	_, hello, err := c.Read(ctx)
	require.NoError(t, err)
	require.Contains(t, string(hello), `"hello"`)
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"seq":1,"type":"register_control","data":{"token":"","version":"1.0.0"}}`)))
	_, reply, err := c.Read(ctx)
	require.NoError(t, err)
	require.Contains(t, string(reply), `"close"`)
	require.Contains(t, string(reply), "-http-origins")
}

// With a token the page cannot register (it does not have the token, which
// the browser keeps per origin): any name is served.
func TestAnyNameWithAToken(t *testing.T) {
	s := &Server{Status: statusOf(), Token: "t", Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "m") })}
	url := serve(t, s)
	code, _ := getHost(t, url+"/metrics", "manager.example:7780", "", false)
	require.Equal(t, http.StatusUnauthorized, code, "on to the token check")
}
