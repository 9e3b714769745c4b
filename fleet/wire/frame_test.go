package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/taskmaster/taskmaster/fleet/fleetpb"
)

func frame(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// The bytes of the seed's messages, written by hand from the original's
// numbers: a peer built from its .proto reads what we write.
func TestWireBytesAreTheOriginals(t *testing.T) {
	tests := []struct {
		name string
		msg  *fleetpb.Message
		want []byte
	}{
		// type 12 (BYE), member 13 (bye) holding reason "x".
		{"bye", New(&fleetpb.Bye{Reason: "x"}), []byte{0x08, 12, 13<<3 | 2, 3, 0x0a, 1, 'x'}},
		{"ping", New(&fleetpb.Ping{Data: 7}), []byte{0x08, 13, 14<<3 | 2, 2, 0x08, 7}},
		{"pong", New(&fleetpb.Pong{Data: 7}), []byte{0x08, 14, 15<<3 | 2, 2, 0x08, 7}},
		{"hello", New(&fleetpb.ClientHello{ClientID: "a", Auth: "s"}), []byte{0x08, 10, 10<<3 | 2, 6, 0x0a, 1, 'a', 0x12, 1, 's'}},
		{"server hello", New(&fleetpb.ServerHello{Version: 1}), []byte{0x08, 11, 11<<3 | 2, 2, 0x08, 1}},
		{"result", New(&fleetpb.CommandResult{CommandID: 3, Status: fleetpb.CommandResult_FAILED, Changed: true, Output: "o"}),
			[]byte{0x08, 23, 0xba, 0x01, 9, 0x08, 3, 0x10, 2, 0x18, 1, 0x2a, 1, 'o'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Append(nil, tt.msg)
			require.NoError(t, err)
			assert.Equal(t, frame(tt.want), got)
			back, err := NewReader(bytes.NewReader(got)).Read()
			require.NoError(t, err)
			assert.True(t, proto.Equal(tt.msg, back))
		})
	}
}

// A Command whose frame is exactly n bytes long.
func commandOfSize(t *testing.T, n int) []byte {
	t.Helper()
	for pad := max(n-16, 0); pad >= 0; pad-- {
		b, err := proto.Marshal(New(&fleetpb.Command{CommandID: 1, Type: "push", Data: strings.Repeat("x", pad)}))
		require.NoError(t, err)
		if len(b) == n {
			return b
		}
	}
	t.Fatalf("no command of %d bytes", n)
	return nil
}

func TestLimitIsInclusive(t *testing.T) {
	body := commandOfSize(t, MaxMessage)
	m, err := NewReader(bytes.NewReader(frame(body))).Read()
	require.NoError(t, err)
	assert.Equal(t, MaxMessage, proto.Size(m))

	_, err = Append(nil, m)
	require.NoError(t, err)
}

func TestTooBigIsRefusedBeforeItsBody(t *testing.T) {
	hdr := binary.BigEndian.AppendUint32(nil, MaxMessage+1)
	// No body follows: the reader must not wait for one.
	_, err := NewReader(bytes.NewReader(hdr)).Read()
	require.ErrorIs(t, err, ErrTooBig)
	assert.Equal(t, "protocol error: message too big", ErrTooBig.Error())
	assert.Contains(t, err.Error(), "65537 bytes")

	big := New(&fleetpb.Command{Data: strings.Repeat("x", MaxMessage)})
	_, err = Append(nil, big)
	require.ErrorIs(t, err, ErrTooBig)
	assert.ErrorIs(t, Write(io.Discard, big), ErrTooBig)
}

func TestHTTPIsNamed(t *testing.T) {
	r := NewReader(strings.NewReader("HTTP/1.1 400 Bad Request\r\n\r\n"))
	_, err := r.Read()
	require.ErrorIs(t, err, ErrHTTP)

	// After a first message, "HTTP" is only a length, and too big.
	ok, err := Append(nil, New(&fleetpb.Ping{}))
	require.NoError(t, err)
	r = NewReader(bytes.NewReader(append(ok, "HTTP"...)))
	_, err = r.Read()
	require.NoError(t, err)
	_, err = r.Read()
	require.ErrorIs(t, err, ErrTooBig)
}

func TestInvalid(t *testing.T) {
	member := func(num protowire.Number, inner []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), inner)
	}
	typ := func(v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), v)
	}
	tests := []struct {
		name string
		body []byte
	}{
		{"garbage", []byte{0xff, 0xff, 0xff}},
		{"empty", nil},
		{"type without member", typ(13)},
		{"member without type", member(14, nil)},
		{"type and member disagree", append(typ(13), member(15, nil)...)},
		{"known member, unknown type", append(typ(99), member(14, nil)...)},
		{"bad utf-8 in a string", append(typ(12), member(13, []byte{0x0a, 1, 0xff})...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(frame(tt.body))).Read()
			require.ErrorIs(t, err, ErrInvalid)
		})
	}
}

func TestUnknownTypeIsSkipped(t *testing.T) {
	body := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 99)
	body = protowire.AppendBytes(protowire.AppendTag(body, 99, protowire.BytesType), []byte{0x08, 1})
	next, err := Append(nil, New(&fleetpb.Pong{Data: 5}))
	require.NoError(t, err)
	r := NewReader(bytes.NewReader(append(frame(body), next...)))
	_, err = r.Read()
	require.ErrorIs(t, err, ErrUnknown)
	m, err := r.Read()
	require.NoError(t, err)
	assert.Equal(t, int32(5), m.GetPong().Data)
}

func TestEnds(t *testing.T) {
	_, err := NewReader(bytes.NewReader(nil)).Read()
	assert.ErrorIs(t, err, io.EOF)
	full, err := Append(nil, New(&fleetpb.Ping{Data: 1}))
	require.NoError(t, err)
	for n := 1; n < len(full); n++ {
		_, err := NewReader(bytes.NewReader(full[:n])).Read()
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "cut at %d", n)
	}
}

func TestNewPanicsOnAStranger(t *testing.T) {
	assert.Panics(t, func() { New(&fleetpb.JobStatus{}) })
}

// FuzzRead: whatever arrives, Read returns a message or one of its errors,
// never panics, and a message it returns writes back to a frame that reads
// as the same message.
func FuzzRead(f *testing.F) {
	for _, m := range []*fleetpb.Message{
		New(&fleetpb.Ping{Data: 1}),
		New(&fleetpb.ClientHello{ClientID: "web-1", Auth: "secret", Version: 1}),
		New(&fleetpb.CommandResult{CommandID: 9, Status: fleetpb.CommandResult_SUCCESS, Output: "{}"}),
		New(&fleetpb.JobState{Reset_: true, Jobs: []*fleetpb.JobStatus{{Name: "a", Status: "{}"}}}),
		New(&fleetpb.DataResponse{RequestID: 2, Ok: true, Data: &fleetpb.DataResponse_Bytes{Bytes: []byte{0, 1}}}),
	} {
		b, err := Append(nil, m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("HTTP/1.0 200 OK\r\n"))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		for range 64 {
			m, err := r.Read()
			switch {
			case err == nil:
				b, werr := Append(nil, m)
				if werr != nil {
					t.Fatalf("a message read does not write: %v", werr)
				}
				back, rerr := NewReader(bytes.NewReader(b)).Read()
				if rerr != nil || !proto.Equal(m, back) {
					t.Fatalf("round trip: %v, %v != %v", rerr, back, m)
				}
			case errors.Is(err, ErrUnknown):
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
				errors.Is(err, ErrTooBig), errors.Is(err, ErrInvalid), errors.Is(err, ErrHTTP):
				return
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
	})
}
