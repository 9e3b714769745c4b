package output

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// recorder is a Destination that keeps every call, to check what Pump passes
// on and how.
type recorder struct {
	mu    sync.Mutex
	calls [][]byte
}

func (r *recorder) WriteLines(p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, bytes.Clone(p))
}

// lines returns every line received, newline included, and fails the test
// if a call did not carry whole lines.
func (r *recorder) lines(t *testing.T) []string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []string
	for _, c := range r.calls {
		require.NotEmpty(t, c)
		require.Equal(t, byte('\n'), c[len(c)-1], "a call must end with a whole line")
		all = append(all, strings.SplitAfter(string(c), "\n")...)
		all = all[:len(all)-1] // SplitAfter leaves "" after the last newline
	}
	return all
}

// pipe returns both ends of an os.Pipe, closed when the test ends.
func pipe(t testing.TB) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() {
		r.Close()
		w.Close()
	})
	return r, w
}

// splitLines splits s after each newline; a last piece without one is kept.
func splitLines(s string) []string {
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}
