package dirwatch

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testPollInterval = 20 * time.Millisecond

func TestPollCreateModifyDelete(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := newWatcher(t, dir, Options{Mode: Poll, PollInterval: testPollInterval})

	write(t, dir, "web.tm.json", `{}`)
	requireChange(t, w, "create")
	// A different size, so that the change shows even if the mtime tick
	// did not advance.
	write(t, dir, "web.tm.json", `{"command":"x"}`)
	requireChange(t, w, "modify")
	atomicWrite(t, dir, "web.tm.json", `{"command":"y"}`)
	requireChange(t, w, "rename onto")
	require.NoError(t, os.Remove(filepath.Join(dir, "web.tm.json")))
	requireChange(t, w, "delete")
}

func TestPollIgnoresIrrelevantNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := newWatcher(t, dir, Options{Mode: Poll, PollInterval: testPollInterval})

	write(t, dir, "notes.txt", "x")
	write(t, dir, ".web.tm.json.tmp-123", "x")
	requireQuiet(t, w, "irrelevant names")
}

func TestPollConfigMapSwap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	configMap(t, dir)
	w := newWatcher(t, dir, Options{Mode: Poll, PollInterval: testPollInterval})

	swapConfigMap(t, dir)
	requireChange(t, w, "..data swapped")
}

func TestPollSymlinkTargetChanges(t *testing.T) {
	t.Parallel()
	dir, elsewhere := t.TempDir(), t.TempDir()
	write(t, elsewhere, "web.tm.json", `{}`)
	require.NoError(t, os.Symlink(filepath.Join(elsewhere, "web.tm.json"), filepath.Join(dir, "web.tm.json")))
	w := newWatcher(t, dir, Options{Mode: Poll, PollInterval: testPollInterval})

	write(t, elsewhere, "web.tm.json", `{"changed":true}`)
	requireChange(t, w, "symlink target rewritten")
}

func TestPollDirRemovedAndRecreated(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "jobs")
	w := newWatcher(t, dir, Options{Mode: Poll, PollInterval: testPollInterval})

	require.NoError(t, os.Mkdir(dir, 0o755))
	requireChange(t, w, "directory created")
	require.NoError(t, os.Remove(dir))
	requireChange(t, w, "directory removed")
}
