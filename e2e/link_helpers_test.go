package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// linkClient is a scripted client of the live link (docs/websocket.md).
type linkClient struct {
	t   *testing.T
	c   *websocket.Conn
	seq int64
}

// linkMessage is one message of the live link.
type linkMessage struct {
	Seq  int64           `json:"seq"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// dialLink opens a WebSocket to the daemon's /api/socket and reads hello.
func (d *daemon) dialLink() *linkClient {
	d.t.Helper()
	return dialLinkAt(d.t, d.http)
}

// dialLinkAt opens a WebSocket to /api/socket at addr and reads hello.
func dialLinkAt(t *testing.T, addr string) *linkClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/api/socket", nil)
	require.NoError(t, err)
	c.SetReadLimit(4 << 20)
	t.Cleanup(func() { c.CloseNow() })
	lc := &linkClient{t: t, c: c}
	require.Equal(t, "hello", lc.next().Type)
	return lc
}

// register sends register_control and returns the answer (ready or close).
func (lc *linkClient) register(token string) *linkMessage {
	lc.send("register_control", map[string]string{"token": token, "agent": "e2e", "version": "1.0.0"})
	return lc.next()
}

func (lc *linkClient) send(typ string, data any) int64 {
	lc.t.Helper()
	raw, err := json.Marshal(data)
	require.NoError(lc.t, err)
	lc.seq++
	b, err := json.Marshal(linkMessage{Seq: lc.seq, Type: typ, Data: raw})
	require.NoError(lc.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(lc.t, lc.c.Write(ctx, websocket.MessageText, b))
	return lc.seq
}

func (lc *linkClient) next() *linkMessage {
	lc.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, b, err := lc.c.Read(ctx)
	require.NoError(lc.t, err)
	var m linkMessage
	require.NoError(lc.t, json.Unmarshal(b, &m))
	return &m
}

// until returns the next message of type typ, and the ones before it.
func (lc *linkClient) until(typ string) (*linkMessage, []*linkMessage) {
	lc.t.Helper()
	var before []*linkMessage
	for range 10000 {
		m := lc.next()
		if m.Type == typ {
			return m, before
		}
		before = append(before, m)
	}
	lc.t.Fatalf("no %s", typ)
	return nil, nil
}

func linkData[T any](t *testing.T, m *linkMessage) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(m.Data, &v), "%s: %s", m.Type, m.Data)
	return v
}

// linkInstance is an instance in job_update_event and list_jobs_response.
type linkInstance struct {
	Job      string `json:"job"`
	Instance string `json:"instance"`
	State    string `json:"state"`
	From     string `json:"from"`
	Pid      int    `json:"pid"`
	ExitCode *int   `json:"exit_code"`
}

// httpGet fetches a path of the daemon's HTTP listener.
func (d *daemon) httpGet(path string, header http.Header) (int, string) {
	d.t.Helper()
	req, err := http.NewRequest("GET", "http://"+d.http+path, nil)
	require.NoError(d.t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(d.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(d.t, err)
	return resp.StatusCode, string(body)
}
