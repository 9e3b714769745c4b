package dirwatch

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	// waitFor is the deadline for a notification that must come.
	waitFor = 5 * time.Second
	// quietFor is how long a test watches for a notification that must not
	// come: the one bounded wait, since absence cannot be awaited.
	quietFor = 300 * time.Millisecond
	// testDebounce keeps tests fast; the burst test uses the defaults.
	testDebounce = 20 * time.Millisecond
)

// newWatcher starts a watcher on dir that is closed when the test ends.
func newWatcher(t *testing.T, dir string, opt Options) *Watcher {
	t.Helper()
	if opt.Debounce == 0 {
		opt.Debounce = testDebounce
	}
	w, err := New(dir, opt)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, w.Close()) })
	return w
}

// requireChange waits for a notification.
func requireChange(t *testing.T, w *Watcher, what string) {
	t.Helper()
	select {
	case <-w.C:
	case <-time.After(waitFor):
		t.Fatalf("%s: no notification within %v", what, waitFor)
	}
}

// requireQuiet checks that no notification comes within quietFor.
func requireQuiet(t *testing.T, w *Watcher, what string) {
	t.Helper()
	select {
	case <-w.C:
		t.Fatalf("%s: unexpected notification", what)
	case <-time.After(quietFor):
	}
}

// write writes content to dir/name, creating or truncating it.
func write(t *testing.T, dir, name, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
}

// atomicWrite writes dir/name the way careful tools do: a dot-prefixed
// temporary file renamed onto the final name.
func atomicWrite(t *testing.T, dir, name, content string) {
	t.Helper()
	tmp := "." + name + ".tmp"
	write(t, dir, tmp, content)
	require.NoError(t, os.Rename(filepath.Join(dir, tmp), filepath.Join(dir, name)))
}

// configMap lays out dir the way the kubelet fills a ConfigMap volume,
// with version ..2026_1 current and ..2026_2 ready to be swapped in.
func configMap(t *testing.T, dir string) {
	t.Helper()
	for i, v := range []string{"..2026_1", "..2026_2"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, v), 0o755))
		write(t, filepath.Join(dir, v), "web.tm.json", `{"version":`+string(rune('1'+i))+`}`)
	}
	require.NoError(t, os.Symlink("..2026_1", filepath.Join(dir, "..data")))
	require.NoError(t, os.Symlink("..data/web.tm.json", filepath.Join(dir, "web.tm.json")))
}

// swapConfigMap points ..data at ..2026_2 the way the kubelet does.
func swapConfigMap(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, os.Symlink("..2026_2", filepath.Join(dir, "..data_tmp")))
	require.NoError(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
}
