package dirwatch

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCloseEndsGoroutines is not parallel: it counts every goroutine of
// the package, and parallel tests only start once the serial ones are done.
func TestCloseEndsGoroutines(t *testing.T) {
	dir := t.TempDir()
	var ws []*Watcher
	for _, opt := range []Options{
		{Mode: Inotify},
		{Mode: Poll, PollInterval: time.Hour},
		{Mode: Off},
	} {
		for _, d := range []string{dir, filepath.Join(dir, "missing", "jobs")} {
			w, err := New(d, opt)
			require.NoError(t, err)
			ws = append(ws, w)
		}
	}
	// Two each for Inotify and Poll (source and debounce loops), none for Off.
	require.Eventually(t, func() bool { return watcherGoroutines() == 8 }, waitFor, time.Millisecond)

	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for _, w := range ws {
			_ = w.Close()
		}
	}()
	select {
	case <-closed:
	case <-time.After(waitFor):
		t.Fatal("Close did not return")
	}
	for _, w := range ws {
		require.NoError(t, w.Close(), "a second Close")
	}
	require.Eventually(t, func() bool { return watcherGoroutines() == 0 }, waitFor, time.Millisecond)
}

// watcherGoroutines counts the goroutines running a loop of this package.
func watcherGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "jobs/dirwatch.(*") && strings.Contains(g, "Loop") {
			n++
		}
	}
	return n
}
