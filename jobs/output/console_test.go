package output

import (
	"bytes"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConsolePrefixesEveryLine(t *testing.T) {
	var out bytes.Buffer
	c := NewConsole(&out)
	c.Lines("web:0 | ").WriteLines([]byte("one\ntwo\r\n\n"))
	c.Lines("db:1 | ").WriteLines([]byte("three\n"))
	require.Equal(t, "web:0 | one\nweb:0 | two\r\nweb:0 | \ndb:1 | three\n", out.String())
	require.Zero(t, c.WriteErrors())
}

func TestConsoleEndsAnUnendedLine(t *testing.T) {
	var out bytes.Buffer
	NewConsole(&out).Lines("p | ").WriteLines([]byte("a\nb"))
	require.Equal(t, "p | a\np | b\n", out.String())
}

// countingWriter records how many writes it got and their sizes.
type countingWriter struct {
	writes []int
	buf    bytes.Buffer
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	return w.buf.Write(p)
}

func TestConsoleBatchesLinesInBoundedWrites(t *testing.T) {
	var w countingWriter
	line := strings.Repeat("x", 999) + "\n"
	chunk := strings.Repeat(line, 200) // 200 KB in one call
	NewConsole(&w).Lines("p | ").WriteLines([]byte(chunk))
	require.Greater(t, len(w.writes), 1)
	for _, n := range w.writes {
		require.LessOrEqual(t, n, consoleBatch)
		require.Zero(t, n%len("p | "+line), "every write carries whole lines")
	}
	require.Equal(t, strings.Repeat("p | "+line, 200), w.buf.String())
}

// epipeWriter fails every write as a pipe nobody reads does.
type epipeWriter struct{}

func (epipeWriter) Write(p []byte) (int, error) { return 0, syscall.EPIPE }

func TestConsoleKeepsDrainingOnEPIPE(t *testing.T) {
	closedPipe, w := pipe(t)
	require.NoError(t, closedPipe.Close()) // the write end now gets EPIPE
	for name, c := range map[string]*Console{
		"writer":      NewConsole(epipeWriter{}),
		"closed pipe": NewConsole(w),
	} {
		t.Run(name, func(t *testing.T) {
			r, pw := pipe(t)
			done := make(chan error, 1)
			go func() { done <- Pump(r, c.Lines("job:0 | "), nil) }()
			// Much more than a pipe holds: the writer finishes only if
			// Pump keeps reading.
			_, err := pw.Write([]byte(strings.Repeat("lost line\n", 100_000)))
			require.NoError(t, err)
			require.NoError(t, pw.Close())
			require.NoError(t, <-done)
			require.NotZero(t, c.WriteErrors())
		})
	}
}
