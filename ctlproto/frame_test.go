package ctlproto

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// readFrames returns every frame of r and the error that ended the stream.
func readFrames(r io.Reader, max int) ([]string, error) {
	fr := NewFrameReader(r, max)
	var frames []string
	for {
		f, err := fr.Next()
		if err != nil {
			return frames, err
		}
		frames = append(frames, string(f))
	}
}

func TestFrameReader(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
		err      error
	}{
		{"one", `{"command":"list"};;`, []string{`{"command":"list"}`}, io.EOF},
		{"pipelined", `{"a":1};;{"b":2};;`, []string{`{"a":1}`, `{"b":2}`}, io.EOF},
		{"crlf around", "\r\n{\"a\":1}\r\n;;\r\n\r\n{\"b\":2};;\n", []string{"{\"a\":1}\r\n", `{"b":2}`}, io.EOF},
		{"whitespace frames dropped", " ;;\n;;\t\r\n;;{};;", []string{`{}`}, io.EOF},
		{"semicolons in a string", `{"data":"a;;b"};;`, []string{`{"data":"a;;b"}`}, io.EOF},
		{"escaped quote in a string", `{"data":"a\";;b"};;`, []string{`{"data":"a\";;b"}`}, io.EOF},
		{"escaped backslash ends string", `{"data":"a\\"};;{};;`, []string{`{"data":"a\\"}`, `{}`}, io.EOF},
		{"single semicolons", `{};{};;`, []string{`{};{}`}, io.EOF},
		{"cut off", `{"command":"li`, nil, io.ErrUnexpectedEOF},
		{"cut off after semicolon", `{};`, nil, io.ErrUnexpectedEOF},
		{"trailing whitespace only", "{};;\r\n", []string{`{}`}, io.EOF},
		{"empty", "", nil, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				got, err := readFrames(r, 0)
				require.Equal(t, tt.want, got)
				require.ErrorIs(t, err, tt.err)
			}
		})
	}
}

func TestFrameReaderLimit(t *testing.T) {
	exact := `{"d":"` + strings.Repeat("x", 10) + `"}` // 18 bytes
	got, err := readFrames(strings.NewReader(exact+";;"+exact+";;"), len(exact))
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, []string{exact, exact}, got)

	got, err = readFrames(strings.NewReader(exact+";;"+exact+" ;;"), len(exact))
	require.ErrorIs(t, err, ErrMessageTooLarge)
	require.Equal(t, []string{exact}, got)

	// A message that never ends is cut at the limit, not buffered forever.
	_, err = readFrames(io.LimitReader(neverEnding('x'), 1<<20), 1024)
	require.ErrorIs(t, err, ErrMessageTooLarge)
}

// Leading whitespace is skipped, not buffered: it cannot exhaust the limit.
func TestFrameReaderLeadingWhitespaceFree(t *testing.T) {
	in := strings.Repeat("\r\n", 5000) + `{};;`
	got, err := readFrames(strings.NewReader(in), 16)
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, []string{`{}`}, got)
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}
