package ctlproto

import (
	"bufio"
	"errors"
	"io"
)

// ErrMessageTooLarge is returned by FrameReader.Next when a message grows
// past the limit before its ";;". The stream cannot be resynchronised after
// it: close the connection.
var ErrMessageTooLarge = errors.New("ctlproto: message too large")

// keepBuffer is the largest buffer a FrameReader keeps between messages, so
// that one big push does not pin a megabyte for the life of a connection.
const keepBuffer = 64 << 10

// FrameReader splits a byte stream into messages at each ";;" that lies
// outside a JSON string, so that a ";;" inside a value does not cut a message
// in two. Whitespace before a message is skipped and a message that is only
// whitespace is dropped, so "\r\n" around messages is harmless.
type FrameReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// NewFrameReader returns a FrameReader over r that refuses messages of more
// than max bytes (not counting the ";;"). A max of 0 or less means
// DefaultMaxMessage.
func NewFrameReader(r io.Reader, max int) *FrameReader {
	if max <= 0 {
		max = DefaultMaxMessage
	}
	return &FrameReader{r: bufio.NewReader(r), max: max}
}

// Next returns the next message without its ";;". The slice is only valid
// until the next call. At the end of the stream it returns io.EOF, or
// io.ErrUnexpectedEOF if a message was cut off.
func (f *FrameReader) Next() ([]byte, error) {
	for {
		frame, err := f.next()
		if err != nil || len(frame) > 0 {
			return frame, err
		}
	}
}

func (f *FrameReader) next() ([]byte, error) {
	if cap(f.buf) > keepBuffer {
		f.buf = nil
	}
	f.buf = f.buf[:0]
	var sp splitter
	for {
		c, err := f.r.ReadByte()
		if err != nil {
			return nil, f.eof(err)
		}
		if len(f.buf) == 0 && isSpace(c) {
			continue
		}
		if sp.step(c) {
			return f.buf[:len(f.buf)-1], nil // drop the first ';'
		}
		f.buf = append(f.buf, c)
		// One byte over the limit is fine if it may be the first ';' of the end.
		if len(f.buf) > f.max && !(len(f.buf) == f.max+1 && sp.semi) {
			return nil, ErrMessageTooLarge
		}
	}
}

func (f *FrameReader) eof(err error) error {
	if err == io.EOF && len(f.buf) > 0 {
		return io.ErrUnexpectedEOF
	}
	return err
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// splitter tracks enough JSON lexing to know whether a ';' is inside a
// string: the string state, a pending backslash escape, and a pending ';'.
type splitter struct {
	inString, escaped, semi bool
}

// step consumes c and reports whether it completes a ";;" outside a string.
func (s *splitter) step(c byte) bool {
	switch {
	case s.inString:
		switch {
		case s.escaped:
			s.escaped = false
		case c == '\\':
			s.escaped = true
		case c == '"':
			s.inString = false
		}
	case c == ';':
		if s.semi {
			return true
		}
		s.semi = true
	default:
		s.semi = false
		s.inString = c == '"'
	}
	return false
}
