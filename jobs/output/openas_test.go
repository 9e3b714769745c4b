package output

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// A log file opened for a job that runs as another user is opened with that
// user's permissions: a symbolic link the job put in place of its log file
// cannot make taskmasterd write to a file the user could not write, and a
// new file belongs to the user.
func TestOpenAsChecksTheOwnersPermissions(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root, as taskmasterd does to run jobs as other users")
	}
	dir := t.TempDir()
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o711)) // t.TempDir's parent is 0700
	require.NoError(t, os.Chmod(dir, 0o777))
	nobody := &Owner{UID: 65534, GID: 65534, Groups: []uint32{65534}}
	set := NewFileSet(nil)

	secret := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secret, []byte("root only\n"), 0o600))
	link := filepath.Join(dir, "app.log")
	require.NoError(t, os.Symlink(secret, link))
	_, err := set.OpenAs(link, 0o666, nobody)
	require.ErrorIs(t, err, os.ErrPermission)
	data, err := os.ReadFile(secret)
	require.NoError(t, err)
	require.Equal(t, "root only\n", string(data))

	fresh := filepath.Join(dir, "fresh.log")
	f, err := set.OpenAs(fresh, 0o640, nobody)
	require.NoError(t, err)
	f.WriteLines([]byte("hello\n"))
	require.NoError(t, f.Close())
	info, err := os.Stat(fresh)
	require.NoError(t, err)
	st := info.Sys().(*syscall.Stat_t)
	require.Equal(t, uint32(65534), st.Uid)
	require.Equal(t, uint32(65534), st.Gid)
	require.Zero(t, info.Mode().Perm()&0o027, "mode %v ignores the job's umask", info.Mode().Perm())

	// taskmasterd's own threads keep root's permissions.
	g, err := set.OpenAs(secret, 0o666, nil)
	require.NoError(t, err)
	require.NoError(t, g.Close())
}

// One path logged to by jobs of different users gets a descriptor per
// user: a reopen never follows, with one user's permissions, a link that
// another user planted.
func TestOpenAsKeepsOwnersApart(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o711))
	require.NoError(t, os.Chmod(dir, 0o777))
	path := filepath.Join(dir, "shared.log")
	set := NewFileSet(nil)
	asRoot, err := set.OpenAs(path, 0o666, nil)
	require.NoError(t, err)
	defer asRoot.Close()
	require.NoError(t, os.Chmod(path, 0o666)) // writable by both, past the umask
	asNobody, err := set.OpenAs(path, 0o666, &Owner{UID: 65534, GID: 65534, Groups: []uint32{65534}})
	require.NoError(t, err)
	defer asNobody.Close()
	require.NotSame(t, asRoot.lf, asNobody.lf)
	again, err := set.OpenAs(path, 0o666, nil)
	require.NoError(t, err)
	defer again.Close()
	require.Same(t, asRoot.lf, again.lf)
}
