package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"

	"github.com/coder/websocket"
)

// linkVersion is the live link protocol version an agent speaks in its
// register_slave (docs/websocket.md).
const linkVersion = "1.0.0"

// isLinkURL reports whether -join names a live link (ws:// or wss://)
// rather than the fleet port.
func isLinkURL(s string) bool {
	return strings.HasPrefix(s, "ws://") || strings.HasPrefix(s, "wss://")
}

// linkMessage is a message of the live link: {seq, type, data}.
type linkMessage struct {
	Seq  int64           `json:"seq"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
}

// dialLink joins the manager over its live link: a WebSocket to
// a.Manager (ws:// or wss://), hello, register_slave with the agent's id
// and secret, ready; then fleet messages, one per link message.
func (a *Agent) dialLink(ctx context.Context) (*conn, string, error) {
	u, err := url.Parse(a.Manager)
	if err != nil {
		return nil, "", fmt.Errorf("-join %q: %w", a.Manager, err)
	}
	client := &http.Client{}
	switch {
	case u.Scheme == "wss":
		cfg, err := a.Trust.clientConfig(u.Hostname())
		if err != nil {
			return nil, "", err
		}
		client.Transport = &http.Transport{TLSClientConfig: cfg}
	case !a.Trust.Insecure:
		return nil, "", fmt.Errorf("-join %s: ws:// would send the agent's secret in clear: use wss:// (behind a TLS proxy), or say -fleet-insecure", a.Manager)
	}
	timeout := orDefault(a.HelloTimeout, DefaultHelloTimeout)
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ws, _, err := websocket.Dial(dctx, a.Manager, &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		return nil, "", fmt.Errorf("live link of the manager at %s: %w", a.Manager, err)
	}
	ws.SetReadLimit(1 << 20)
	c := &agentLinkConn{ws: ws}
	if err := c.register(dctx, a); err != nil {
		ws.CloseNow()
		if dctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("no ready within %v: %w", timeout, err)
		}
		return nil, "", err
	}
	t := newMessageTransport(c)
	return newConn(t, orDefault(a.PingInterval, DefaultPingInterval), orDefault(a.WriteTimeout, DefaultWriteTimeout), a.logger()), "", nil
}

// agentLinkConn is the agent's end of the live link, a MessageConn once
// registered.
type agentLinkConn struct {
	ws  *websocket.Conn
	seq atomic.Int64
}

// register waits for hello, sends register_slave and waits for ready;
// a close is the manager's refusal, as a Bye.
func (c *agentLinkConn) register(ctx context.Context, a *Agent) error {
	m, err := c.next(ctx)
	if err != nil {
		return err
	}
	if m.Type != "hello" {
		return fmt.Errorf("the live link said %q before hello", m.Type)
	}
	name, _ := os.Hostname()
	reg, err := json.Marshal(map[string]any{"token": a.Secret, "agent": a.Build, "version": linkVersion, "name": name, "id": a.ID})
	if err != nil {
		return err
	}
	if err := c.send(ctx, "register_slave", reg); err != nil {
		return err
	}
	m, err = c.next(ctx)
	if err != nil {
		return err
	}
	switch m.Type {
	case "ready":
		return nil
	case "close":
		var cl struct{ Reason string }
		_ = json.Unmarshal(m.Data, &cl)
		return &ByeError{Reason: cl.Reason}
	}
	return fmt.Errorf("the live link answered register_slave with %q", m.Type)
}

func (c *agentLinkConn) next(ctx context.Context) (*linkMessage, error) {
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	var m linkMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("the live link sent invalid JSON: %v", err)
	}
	return &m, nil
}

func (c *agentLinkConn) send(ctx context.Context, typ string, data json.RawMessage) error {
	b, err := json.Marshal(linkMessage{Seq: c.seq.Add(1), Type: typ, Data: data})
	if err != nil {
		return err
	}
	return c.ws.Write(ctx, websocket.MessageText, b)
}

// Read returns the data of the next fleet_message; io.EOF after a close.
func (c *agentLinkConn) Read(ctx context.Context) ([]byte, error) {
	m, err := c.next(ctx)
	if err != nil {
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return nil, io.EOF
		}
		return nil, err
	}
	switch m.Type {
	case "fleet_message":
		return m.Data, nil
	case "close":
		var cl struct{ Reason string }
		_ = json.Unmarshal(m.Data, &cl)
		return nil, &ByeError{Reason: cl.Reason}
	}
	return nil, fmt.Errorf("unexpected message type %q on the fleet's live link", m.Type)
}

func (c *agentLinkConn) Write(ctx context.Context, data []byte) error {
	return c.send(ctx, "fleet_message", data)
}

func (c *agentLinkConn) Close() error {
	return c.ws.Close(websocket.StatusNormalClosure, "")
}
