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

// next reads one message, a buffered chunk at a time: a byte at a time
// through bufio.Reader.ReadByte, with an append per byte, was the client's
// largest cost after JSON itself for a status of 200 processes.
func (f *FrameReader) next() ([]byte, error) {
	if cap(f.buf) > keepBuffer {
		f.buf = nil
	}
	f.buf = f.buf[:0]
	var sp splitter
	for {
		chunk, err := f.buffered()
		if err != nil {
			return nil, f.eof(err)
		}
		start := 0
		if len(f.buf) == 0 { // whitespace before a message is skipped
			for start < len(chunk) && isSpace(chunk[start]) {
				start++
			}
		}
		for i := start; i < len(chunk); i++ {
			if sp.step(chunk[i]) {
				f.buf = append(f.buf, chunk[start:i]...)
				_, _ = f.r.Discard(i + 1)
				return f.buf[:len(f.buf)-1], nil // drop the first ';'
			}
			// One byte over the limit is fine if it may be the first ';' of the end.
			if n := len(f.buf) + i - start + 1; n > f.max && !(n == f.max+1 && sp.semi) {
				return nil, ErrMessageTooLarge
			}
		}
		f.buf = append(f.buf, chunk[start:]...)
		_, _ = f.r.Discard(len(chunk))
	}
}

// buffered returns what the reader holds, reading more first if it holds
// nothing. The slice is valid until the reader is used again.
func (f *FrameReader) buffered() ([]byte, error) {
	if f.r.Buffered() == 0 {
		if _, err := f.r.Peek(1); err != nil {
			return nil, err
		}
	}
	return f.r.Peek(f.r.Buffered())
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
