package control

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := []string{}
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func requireFile(t *testing.T, path, content string) os.FileInfo {
	t.Helper()
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, content, string(got))
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), info.Mode(), "mode of %s", path)
	return info
}

// A new file gets the exact bytes and mode 0644, and no temporary file is
// left beside it.
func TestWriteAtomicNew(t *testing.T) {
	for _, content := range []string{"{\"cmd\":\"x\"}\n", "", "\xff\x00;;\n"} {
		dir := t.TempDir()
		path := filepath.Join(dir, "web.tm.json")
		require.NoError(t, writeAtomic(path, []byte(content)))
		requireFile(t, path, content)
		require.Equal(t, []string{"web.tm.json"}, names(t, dir))
	}
}

// Replacing puts a new file in place (a new inode) whatever the old one's
// mode was; a reader of the old file keeps the old bytes.
func TestWriteAtomicReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "web.tm.json")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
	old, err := os.Stat(path)
	require.NoError(t, err)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()

	require.NoError(t, writeAtomic(path, []byte("new content\n")))

	info := requireFile(t, path, "new content\n")
	require.NotEqual(t, old.Sys().(*syscall.Stat_t).Ino, info.Sys().(*syscall.Stat_t).Ino)
	buf := make([]byte, 16)
	n, err := f.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "old", string(buf[:n]))
	require.Equal(t, []string{"web.tm.json"}, names(t, dir))
}

// When the directory cannot hold a file (its "directory" is a regular
// file: root may write anywhere else), writeAtomic fails, names the path,
// and creates nothing.
func TestWriteAtomicNoDirectory(t *testing.T) {
	top := t.TempDir()
	notDir := filepath.Join(top, "jobs")
	require.NoError(t, os.WriteFile(notDir, []byte("a file"), 0o644))
	path := filepath.Join(notDir, "web.tm.json")

	err := writeAtomic(path, []byte("{}"))
	require.ErrorIs(t, err, syscall.ENOTDIR)
	require.ErrorContains(t, err, path)
	require.Equal(t, []string{"jobs"}, names(t, top))
	got, err := os.ReadFile(notDir)
	require.NoError(t, err)
	require.Equal(t, "a file", string(got))
}

// When the final rename fails (the target is a directory), the temporary
// file already written is removed and the target is untouched.
func TestWriteAtomicRenameFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "web.tm.json")
	require.NoError(t, os.Mkdir(path, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(path, "keep"), []byte("x"), 0o644))

	err := writeAtomic(path, []byte("{}"))
	require.Error(t, err)
	require.ErrorContains(t, err, path)
	require.Equal(t, []string{"web.tm.json"}, names(t, dir), "temporary file left behind")
	require.Equal(t, []string{"keep"}, names(t, path))
}
