package fleet

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/taskmaster/taskmaster/fleet/fleetpb"
	"github.com/taskmaster/taskmaster/fleet/wire"
	"google.golang.org/protobuf/proto"
)

// transport carries fleet messages: framed protobuf over TLS (the seed's
// wire), or the messages of the live link (an agent that joined with
// register_slave). read has wire.Reader's errors.
type transport interface {
	read() (*fleetpb.Message, error)
	write(m *fleetpb.Message, timeout time.Duration) error
	close() error
}

// streamTransport is the seed's wire: 4-byte length, protobuf, over TLS.
type streamTransport struct {
	nc net.Conn
	r  *wire.Reader
}

func (t *streamTransport) read() (*fleetpb.Message, error) { return t.r.Read() }

func (t *streamTransport) write(m *fleetpb.Message, timeout time.Duration) error {
	t.nc.SetWriteDeadline(time.Now().Add(timeout))
	return wire.Write(t.nc, m)
}

func (t *streamTransport) close() error { return t.nc.Close() }

// MessageConn is a message-oriented connection: the live link's, once an
// agent has registered with register_slave. Each message it carries is
// the data of one link message (fleet_message): a JSON string holding the
// base64 of one protobuf fleet Message, the same messages as on the
// seed's wire. It is link.SlaveConn, which fleet does not import.
type MessageConn interface {
	Read(ctx context.Context) ([]byte, error) // io.EOF once the peer closed
	Write(ctx context.Context, data []byte) error
	Close() error
}

// messageTransport carries fleet messages over a MessageConn.
type messageTransport struct {
	c      MessageConn
	ctx    context.Context
	cancel context.CancelFunc
}

func newMessageTransport(c MessageConn) *messageTransport {
	ctx, cancel := context.WithCancel(context.Background())
	return &messageTransport{c: c, ctx: ctx, cancel: cancel}
}

func (t *messageTransport) read() (*fleetpb.Message, error) {
	data, err := t.c.Read(t.ctx)
	if err != nil {
		return nil, err
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%w: fleet_message data is not a JSON string: %v", wire.ErrInvalid, err)
	}
	if base64.StdEncoding.DecodedLen(len(s)) > wire.MaxMessage+3 {
		return nil, fmt.Errorf("%w: %d base64 characters, the limit is %d bytes", wire.ErrTooBig, len(s), wire.MaxMessage)
	}
	body, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: fleet_message data is not base64: %v", wire.ErrInvalid, err)
	}
	if len(body) > wire.MaxMessage {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", wire.ErrTooBig, len(body), wire.MaxMessage)
	}
	return wire.Decode(body)
}

func (t *messageTransport) write(m *fleetpb.Message, timeout time.Duration) error {
	if size := proto.Size(m); size > wire.MaxMessage {
		return fmt.Errorf("%w: %v of %d bytes, the limit is %d", wire.ErrTooBig, m.Type, size, wire.MaxMessage)
	}
	body, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	data, err := json.Marshal(base64.StdEncoding.EncodeToString(body))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(t.ctx, timeout)
	defer cancel()
	return t.c.Write(ctx, data)
}

func (t *messageTransport) close() error {
	t.cancel()
	return t.c.Close()
}
