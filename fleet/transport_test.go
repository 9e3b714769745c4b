package fleet

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/fleet/fleetpb"
	"github.com/taskmaster/taskmaster/fleet/wire"
)

// chanConn is an in-memory MessageConn: what one end writes, the other
// reads.
type chanConn struct {
	in, out chan []byte
	closed  chan struct{}
}

func chanPair() (*chanConn, *chanConn) {
	a, b := make(chan []byte, 16), make(chan []byte, 16)
	done := make(chan struct{})
	return &chanConn{in: a, out: b, closed: done}, &chanConn{in: b, out: a, closed: done}
}

func (c *chanConn) Read(ctx context.Context) ([]byte, error) {
	select {
	case b := <-c.in:
		return b, nil
	case <-c.closed:
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *chanConn) Write(ctx context.Context, b []byte) error {
	select {
	case c.out <- b:
		return nil
	case <-c.closed:
		return io.ErrClosedPipe
	}
}

func (c *chanConn) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return nil
}

func TestMessageTransport(t *testing.T) {
	a, b := chanPair()
	ta, tb := newMessageTransport(a), newMessageTransport(b)
	require.NoError(t, ta.write(wire.New(&fleetpb.Ping{Data: 3}), time.Second))
	raw := <-b.in
	var s string
	require.NoError(t, json.Unmarshal(raw, &s), "the data is a JSON string")
	b.in <- raw
	m, err := tb.read()
	require.NoError(t, err)
	assert.Equal(t, int32(3), m.GetPing().GetData())

	for name, tc := range map[string]struct {
		data string
		err  error
	}{
		"not a string": {`{"x":1}`, wire.ErrInvalid},
		"not base64":   {`"!!!"`, wire.ErrInvalid},
		"not protobuf": {`"` + base64.StdEncoding.EncodeToString([]byte{0xff, 0xff}) + `"`, wire.ErrInvalid},
		"too big":      {`"` + strings.Repeat("A", 4*(wire.MaxMessage/3+4)) + `"`, wire.ErrTooBig},
	} {
		t.Run(name, func(t *testing.T) {
			b.in <- []byte(tc.data)
			_, err := tb.read()
			require.ErrorIs(t, err, tc.err)
		})
	}
	err = ta.write(wire.New(&fleetpb.Command{Data: strings.Repeat("x", wire.MaxMessage)}), time.Second)
	require.ErrorIs(t, err, wire.ErrTooBig)
}

// An agent over the live link: the manager admits it by the same rules,
// and it is an agent like any other.
func TestSlaveJoinsOverMessages(t *testing.T) {
	m := startManager(t, rule("web-*", "s"))
	assert.ErrorIs(t, m.AdmitSlave("web-1", "guess", "127.0.0.1:5"), ErrAuth)
	assert.ErrorContains(t, m.AdmitSlave("web-1", "s", "10.9.9.9:5"), "address not allowed")
	assert.ErrorContains(t, m.AdmitSlave("web-1", "s", ""), "no peer address")
	require.NoError(t, m.AdmitSlave("web-1", "s", "127.0.0.1:5"))

	mine, theirs := chanPair()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { m.ServeSlave(ctx, "web-1", "v9", "127.0.0.1:5", theirs); close(done) }()
	agent := newMessageTransport(mine)
	require.NoError(t, agent.write(wire.New(&fleetpb.JobState{Reset_: true, Jobs: []*fleetpb.JobStatus{
		{Name: "x", Status: `{"name":"x","state":"RUNNING","processes":[]}`},
	}}), time.Second))
	m.until(t, "web-1's job", func() bool {
		a, ok := m.agent("web-1")
		return ok && a.State == StateConnected && a.Jobs == 1 && a.Version == "v9"
	})
	cancel()
	<-done
	m.untilState(t, "web-1", StateLost)
}
