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

// referenceFrames splits in as FrameReader did when it read a byte at a
// time: the reference its chunked reading must match.
func referenceFrames(in string, max int) ([]string, error) {
	var frames []string
	var buf []byte
	var sp splitter
	for i := 0; i < len(in); i++ {
		c := in[i]
		if len(buf) == 0 && isSpace(c) {
			continue
		}
		if sp.step(c) {
			if len(buf) > 1 {
				frames = append(frames, string(buf[:len(buf)-1]))
			}
			buf, sp = buf[:0], splitter{}
			continue
		}
		buf = append(buf, c)
		if len(buf) > max && !(len(buf) == max+1 && sp.semi) {
			return frames, ErrMessageTooLarge
		}
	}
	if len(buf) > 0 {
		return frames, io.ErrUnexpectedEOF
	}
	return frames, io.EOF
}

// Chunk boundaries fall anywhere: inside a string, between the two ';',
// inside leading whitespace, at the size limit.
func TestFrameReaderMatchesByteAtATime(t *testing.T) {
	pieces := []string{`{"a":"x;;y"}`, ";;", ";", " ", "\r\n", `"`, `\`, `\"`, "{}", "ab", `{"k":"\\"}`}
	rnd := uint32(1)
	next := func(n int) int { rnd = rnd*1664525 + 1013904223; return int(rnd>>8) % n }
	for range 3000 {
		var sb strings.Builder
		for range next(30) {
			sb.WriteString(pieces[next(len(pieces))])
		}
		in, max := sb.String(), 1+next(40)
		wantFrames, wantErr := referenceFrames(in, max)
		for _, r := range []io.Reader{strings.NewReader(in), iotest.OneByteReader(strings.NewReader(in)), iotest.HalfReader(strings.NewReader(in))} {
			frames, err := readFrames(r, max)
			require.Equal(t, wantFrames, frames, "input %q, max %d", in, max)
			require.ErrorIs(t, err, wantErr, "input %q, max %d", in, max)
		}
	}
}
