package jobfile

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// settledCache is a Cache whose files all look changed long ago, so that
// it keeps every file it may keep.
func settledCache() *Cache {
	return &Cache{now: func() time.Time { return time.Now().Add(time.Hour) }}
}

// The cache's result is LoadDir's, for every kind of file LoadDir meets,
// on the first load and on the next, when it reuses what it kept.
func TestCacheLoadDirIsLoadDir(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"web.tm.json":    `{"cmd": "web", "depends_on": ["api"], "stdout": "web.log"}`,
		"api.tm.json":    `{"cmd": "api", "depends_on": ["db"]}`,
		"db.tm.json":     `{"cmd": "db"}`,
		"broken.tm.json": `{"cmd": "x", "numprocs": 0}`,
		"user.tm.json":   `{"cmd": "x", "depends_on": ["broken"]}`,
		"orphan.tm.json": `{"cmd": "x", "depends_on": ["ghost"]}`,
		"root.tm.json":   `{"cmd": "x", "user": "0"}`,
		"a b.tm.json":    `{"cmd": "x"}`,
	})
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub.tm.json"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(dir, "db.tm.json"), filepath.Join(dir, "link.tm.json")))
	require.NoError(t, os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "dangling.tm.json")))

	want, err := LoadDir(dir)
	require.NoError(t, err)
	c := settledCache()
	for range 2 {
		got, err := c.LoadDir(dir)
		require.NoError(t, err)
		requireSameLoad(t, want, got)
	}
}

// requireSameLoad checks that two loads found the same jobs, specs, data
// and errors.
func requireSameLoad(t *testing.T, want, got map[string]Loaded) {
	t.Helper()
	require.ElementsMatch(t, mapKeys(want), mapKeys(got))
	for name, w := range want {
		g := got[name]
		require.Equal(t, w.Path, g.Path, name)
		require.Equal(t, w.Data, g.Data, name)
		require.True(t, w.Spec.Equal(g.Spec), name)
		if w.Err == nil {
			require.NoError(t, g.Err, name)
		} else {
			require.EqualError(t, g.Err, w.Err.Error(), name)
		}
	}
}

// An unchanged file is not parsed again: the next load hands back the same
// spec. A file rewritten (in place or by rename) is read again, and the
// set checks run over the whole directory every time.
func TestCacheReusesOnlyUnchangedFiles(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"a.tm.json": `{"cmd": "a"}`,
		"b.tm.json": `{"cmd": "b", "depends_on": ["a"]}`,
		"c.tm.json": `{"cmd": "c"}`,
	})
	c := settledCache()
	first, err := c.LoadDir(dir)
	require.NoError(t, err)

	// In place, and of another size: with the clock that makes every file
	// settled, a rewrite of the same size within one tick would go unseen.
	writeFiles(t, dir, map[string]string{"c.tm.json": `{"cmd": "CC"}`})
	second, err := c.LoadDir(dir)
	require.NoError(t, err)
	require.Same(t, first["a"].Spec, second["a"].Spec, "unchanged: reused")
	require.Same(t, first["b"].Spec, second["b"].Spec, "unchanged: reused")
	require.Equal(t, []string{"CC"}, second["c"].Spec.Cmd, "rewritten: read again")

	tmp := filepath.Join(dir, ".a.tm.json.tmp")
	require.NoError(t, os.WriteFile(tmp, []byte(`{"cmd": "A"}`), 0o644))
	require.NoError(t, os.Rename(tmp, filepath.Join(dir, "a.tm.json")))
	require.NoError(t, os.Remove(filepath.Join(dir, "c.tm.json")))
	third, err := c.LoadDir(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"A"}, third["a"].Spec.Cmd, "replaced by rename: read again")
	require.NotContains(t, third, "c")
	require.NotContains(t, c.entries, "c.tm.json", "a removed file is forgotten")

	require.NoError(t, os.Remove(filepath.Join(dir, "a.tm.json")))
	fourth, err := c.LoadDir(dir)
	require.NoError(t, err)
	require.Same(t, second["b"].Spec, fourth["b"].Spec)
	require.ErrorContains(t, fourth["b"].Err, `unknown job "a"`, "the set check sees the directory as it is")
}

// A file changed within racyWindow is read again on every load: a second
// write of the same size within one tick of the kernel's clock would leave
// its identity as it was. So are a file with errors and a job with a user,
// whose validity depends on the user database too.
func TestCacheKeepsNeitherFreshNorInvalidNorUserFiles(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"fresh.tm.json": `{"cmd": "x"}`,
		"bad.tm.json":   `{"cmd": "x", "numprocs": 0}`,
		"root.tm.json":  `{"cmd": "x", "user": "0"}`,
	})
	var c Cache // the real clock: every file was written just now
	_, err := c.LoadDir(dir)
	require.NoError(t, err)
	require.Empty(t, c.entries)

	s := settledCache()
	_, err = s.LoadDir(dir)
	require.NoError(t, err)
	require.Len(t, s.entries, 1)
	require.Contains(t, s.entries, "fresh.tm.json")
}

// A Cache given another directory forgets the files of the first, though
// their names are the same, and even the same file: a hard link in both
// has one identity, and its entry must say the path it has in the second.
func TestCacheForgetsAnotherDirectory(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	writeFiles(t, first, map[string]string{"web.tm.json": `{"cmd": "web"}`, "db.tm.json": `{"cmd": "db"}`})
	require.NoError(t, os.Link(filepath.Join(first, "web.tm.json"), filepath.Join(second, "web.tm.json")))
	c := settledCache()
	_, err := c.LoadDir(first)
	require.NoError(t, err)
	jobs, err := c.LoadDir(second)
	require.NoError(t, err)
	require.Equal(t, []string{"web"}, jobs["web"].Spec.Cmd)
	require.Equal(t, filepath.Join(second, "web.tm.json"), jobs["web"].Path)
	require.NotContains(t, jobs, "db")
	require.Len(t, c.entries, 1)
	require.Equal(t, filepath.Join(second, "web.tm.json"), c.entries["web.tm.json"].loaded.Path)
}

// A symbolic link whose target changes, as a Kubernetes ConfigMap's files
// do when ..data is swapped, is read again.
func TestCacheFollowsSymlinkSwaps(t *testing.T) {
	dir := t.TempDir()
	for _, v := range []string{"v1", "v2"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, v), 0o755))
		writeFiles(t, filepath.Join(dir, v), map[string]string{"web.tm.json": `{"cmd": "` + v + `"}`})
	}
	require.NoError(t, os.Symlink("v1", filepath.Join(dir, "..data")))
	require.NoError(t, os.Symlink("..data/web.tm.json", filepath.Join(dir, "web.tm.json")))
	c := settledCache()
	jobs, err := c.LoadDir(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"v1"}, jobs["web"].Spec.Cmd)

	require.NoError(t, os.Symlink("v2", filepath.Join(dir, "..data_tmp")))
	require.NoError(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	jobs, err = c.LoadDir(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"v2"}, jobs["web"].Spec.Cmd)
}
