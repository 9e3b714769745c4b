package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/taskmaster/taskmaster/fleet/fleetpb"
	"google.golang.org/protobuf/proto"
)

// MaxMessage bounds the length of one message, its 4-byte length not
// counted: a longer one is refused. It is the original's limit.
const MaxMessage = 64 << 10

// The reasons of the Bye a peer sends before it closes a connection that
// broke the framing, as the original words them.
const (
	ReasonTooBig  = "protocol error: message too big"
	ReasonInvalid = "protocol error: invalid message"
)

// Errors of ReadMessage. Each but ErrHTTP and ErrUnknown is answered with
// a Bye (Reason) and the connection closed.
var (
	// ErrTooBig is a length over MaxMessage.
	ErrTooBig = errors.New(ReasonTooBig)
	// ErrInvalid is a message that does not parse, or whose type and set
	// member disagree.
	ErrInvalid = errors.New(ReasonInvalid)
	// ErrHTTP says that the first bytes read were "HTTP": the peer is an
	// HTTP server, reached by mistake (a wrong port, a proxy).
	ErrHTTP = errors.New("the peer answered HTTP: it is an HTTP server, not a fleet manager (wrong port?)")
	// ErrUnknown is a well-formed message of a type this side does not
	// know, from a newer peer: it is to be ignored, the connection kept.
	ErrUnknown = errors.New("message of an unknown type")
)

// Reader reads messages from a stream.
type Reader struct {
	r     io.Reader
	hdr   [4]byte
	first bool // no message read yet: "HTTP" means an HTTP server
}

// NewReader reads messages from r. It reads exactly the bytes of each
// message, no more, so r should buffer if it is a raw socket.
func NewReader(r io.Reader) *Reader { return &Reader{r: r, first: true} }

// Read returns the next message. It returns io.EOF at a clean end between
// messages, io.ErrUnexpectedEOF in the middle of one, ErrTooBig,
// ErrInvalid, ErrHTTP, ErrUnknown (the stream is still in step: read on),
// or the stream's error.
func (r *Reader) Read() (*fleetpb.Message, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		return nil, err
	}
	if r.first && string(r.hdr[:]) == "HTTP" {
		return nil, ErrHTTP
	}
	r.first = false
	n := binary.BigEndian.Uint32(r.hdr[:])
	if n > MaxMessage {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooBig, n, MaxMessage)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r.r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return Decode(body)
}

// Decode parses one message without its length and checks that its type
// and its set member agree.
func Decode(body []byte) (*fleetpb.Message, error) {
	m := &fleetpb.Message{}
	if err := proto.Unmarshal(body, m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	want, known := typeOf(m.GetMessage())
	switch {
	case !known && m.Type != fleetpb.MessageType_UNSPECIFIED && !KnownType(m.Type):
		return m, ErrUnknown
	case !known:
		return nil, fmt.Errorf("%w: type %v with no message", ErrInvalid, m.Type)
	case m.Type != want:
		return nil, fmt.Errorf("%w: type %v with a %v message", ErrInvalid, m.Type, want)
	}
	return m, nil
}

// KnownType reports whether t is a type this side knows.
func KnownType(t fleetpb.MessageType) bool {
	_, ok := fleetpb.MessageType_name[int32(t)]
	return ok && t != fleetpb.MessageType_UNSPECIFIED
}

// Append appends m, framed, to dst. It fails for a message over MaxMessage.
func Append(dst []byte, m *fleetpb.Message) ([]byte, error) {
	size := proto.Size(m)
	if size > MaxMessage {
		return dst, fmt.Errorf("%w: %v of %d bytes, the limit is %d", ErrTooBig, m.Type, size, MaxMessage)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(size))
	return proto.MarshalOptions{}.MarshalAppend(dst, m)
}

// Write writes m, framed, to w in one Write call, so that a message is
// one TLS record or a few, never interleaved with another writer's when
// the caller holds a lock around Write.
func Write(w io.Writer, m *fleetpb.Message) error {
	buf, err := Append(nil, m)
	if err != nil {
		return err
	}
	_, err = w.Write(buf)
	return err
}
