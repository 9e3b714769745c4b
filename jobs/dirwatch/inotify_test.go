package dirwatch

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestInotifyCreateModifyDelete(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := newWatcher(t, dir, Options{})

	write(t, dir, "web.tm.json", `{}`)
	requireChange(t, w, "create")

	// An editor writing in place, file still open: IN_MODIFY alone.
	f, err := os.OpenFile(filepath.Join(dir, "web.tm.json"), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(" ")
	require.NoError(t, err)
	requireChange(t, w, "modify in place")
	require.NoError(t, f.Close())
	requireChange(t, w, "close after write")

	require.NoError(t, os.Chmod(filepath.Join(dir, "web.tm.json"), 0o600))
	requireChange(t, w, "chmod")

	require.NoError(t, os.Remove(filepath.Join(dir, "web.tm.json")))
	requireChange(t, w, "delete")
}

func TestInotifyAtomicWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "x.tm.json", `{"v":1}`)
	w := newWatcher(t, dir, Options{})

	write(t, dir, ".x.tm.json.tmp", `{"v":2}`)
	requireQuiet(t, w, "temporary file written")
	require.NoError(t, os.Rename(filepath.Join(dir, ".x.tm.json.tmp"), filepath.Join(dir, "x.tm.json")))
	requireChange(t, w, "rename onto x.tm.json")
}

func TestInotifyIgnoresIrrelevantNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := newWatcher(t, dir, Options{})

	for _, name := range []string{"notes.txt", ".web.tm.json.tmp-123", ".web.tm.json", ".#web.tm.json", "web.tm.json.bak"} {
		write(t, dir, name, "x")
		write(t, dir, name, "xy")
		require.NoError(t, os.Rename(filepath.Join(dir, name), filepath.Join(dir, name+"~")))
		require.NoError(t, os.Remove(filepath.Join(dir, name+"~")))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "subdir"), 0o755))
	write(t, filepath.Join(dir, "subdir"), "deep.tm.json", "x")
	requireQuiet(t, w, "irrelevant names")
}

func TestInotifyConfigMapSwap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	configMap(t, dir)
	w := newWatcher(t, dir, Options{})

	require.NoError(t, os.Symlink("..2026_2", filepath.Join(dir, "..data_tmp")))
	requireChange(t, w, "..data_tmp created")
	require.NoError(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	requireChange(t, w, "..data_tmp renamed onto ..data")
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "..2026_1")))
	requireChange(t, w, "old version removed")
}

func TestInotifyBurstCoalesces(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A long debounce and MaxDelay keep the burst one burst on a loaded
	// machine, where 50 writes can take seconds.
	const debounce = 500 * time.Millisecond
	w := newWatcher(t, dir, Options{Debounce: debounce, MaxDelay: time.Minute})

	// Receive while the burst happens: a consumer that waits until the end
	// would see one value whatever the debounce does, since C coalesces.
	var got atomic.Int32
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-w.C:
				got.Add(1)
			case <-stop:
				return
			}
		}
	}()
	// A gap of a whole debounce between two writes (a loaded machine)
	// rightly ends a burst: each such gap allows one more notification.
	slowGaps := int32(0)
	last := time.Now()
	for i := range 50 {
		write(t, dir, "web.tm.json", string(rune('a'+i%26)))
		if time.Since(last) >= debounce {
			slowGaps++
		}
		last = time.Now()
	}
	require.Eventually(t, func() bool { return got.Load() > 0 }, waitFor, time.Millisecond)
	<-time.After(quietFor) // room for a late second notification, which is allowed
	close(stop)
	<-done
	require.LessOrEqual(t, got.Load(), 2+slowGaps)
}

func TestInotifyMaxDelay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := newWatcher(t, dir, Options{Debounce: 200 * time.Millisecond, MaxDelay: 300 * time.Millisecond})

	// Rewrite the file more often than the debounce until a notification
	// comes: only MaxDelay can end the burst.
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				_ = os.WriteFile(filepath.Join(dir, "web.tm.json"), []byte("{}"), 0o644)
			case <-stop:
				return
			}
		}
	}()
	defer func() { close(stop); <-done }()
	requireChange(t, w, "continuous rewrite")
}

func TestInotifyMissingDirAppears(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "b", "jobs")
	w := newWatcher(t, dir, Options{})

	require.NoError(t, os.MkdirAll(dir, 0o755))
	requireChange(t, w, "directory created")
	write(t, dir, "web.tm.json", `{}`)
	requireChange(t, w, "job file created in the new directory")
}

func TestInotifyPathIsAFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "jobs")
	write(t, filepath.Dir(dir), "jobs", "not a directory")
	w := newWatcher(t, dir, Options{})

	require.NoError(t, os.Remove(dir))
	require.NoError(t, os.Mkdir(dir, 0o755))
	requireChange(t, w, "file replaced by a directory")
}

func TestInotifyDirRemovedAndRecreated(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "jobs")
	require.NoError(t, os.Mkdir(dir, 0o755))
	write(t, dir, "web.tm.json", `{}`)
	w := newWatcher(t, dir, Options{})

	require.NoError(t, os.RemoveAll(dir))
	requireChange(t, w, "directory removed")
	require.NoError(t, os.Mkdir(dir, 0o755))
	requireChange(t, w, "directory recreated")
	write(t, dir, "web.tm.json", `{}`)
	requireChange(t, w, "job file created in the recreated directory")
}

func TestInotifyDirMovedAway(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "jobs")
	require.NoError(t, os.Mkdir(dir, 0o755))
	w := newWatcher(t, dir, Options{})

	require.NoError(t, os.Rename(dir, dir+".old"))
	requireChange(t, w, "directory moved away")
	write(t, dir+".old", "web.tm.json", `{}`)
	requireQuiet(t, w, "write into the moved directory")
	require.NoError(t, os.Mkdir(dir, 0o755))
	requireChange(t, w, "directory recreated")
}

func TestInotifyIdleNeverWakes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := newWatcher(t, dir, Options{})
	requireQuiet(t, w, "idle after New")
	require.Zero(t, w.wakeups.Load(), "an idle watcher woke up")

	// One change gives exactly one event (mkdir: IN_CREATE). Once it is
	// notified no timer is left armed and the reader parks in the poller:
	// neither loop runs again.
	require.NoError(t, os.Mkdir(filepath.Join(dir, "..2026_1"), 0o755))
	requireChange(t, w, "mkdir")
	before := w.wakeups.Load()
	requireQuiet(t, w, "idle after a change")
	require.Equal(t, before, w.wakeups.Load(), "an idle watcher woke up")
}
