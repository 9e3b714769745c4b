package jobfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// writeFiles creates files (name -> content) in dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"web.tm.json":      `{"cmd": "web", "depends_on": ["api"], "stdout": "web.log"}`,
		"api.tm.json":      `{"cmd": "api", "depends_on": ["db"]}`,
		"db.tm.json":       `{"cmd": "db"}`,
		"broken.tm.json":   `{"cmd": "x", "numprocs": 0}`,
		"user.tm.json":     `{"cmd": "x", "depends_on": ["broken"]}`,
		"user2.tm.json":    `{"cmd": "x", "depends_on": ["user"]}`,
		"orphan.tm.json":   `{"cmd": "x", "depends_on": ["ghost"]}`,
		"a b.tm.json":      `{"cmd": "x"}`,
		".hidden.tm.json":  `{"cmd": "x"}`,
		".web.tm.json.swp": "junk",
		"notes.txt":        "junk",
		"web.json":         "junk",
	})
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub.tm.json"), 0o755))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "nested"), 0o755))
	writeFiles(t, filepath.Join(dir, "nested"), map[string]string{"deep.tm.json": `{"cmd": "x"}`})
	require.NoError(t, os.Symlink(filepath.Join(dir, "db.tm.json"), filepath.Join(dir, "link.tm.json")))
	require.NoError(t, os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "dangling.tm.json")))

	jobs, err := LoadDir(dir)
	require.NoError(t, err)
	names := make([]string, 0, len(jobs))
	for name := range jobs {
		names = append(names, name)
	}
	require.ElementsMatch(t, []string{"web", "api", "db", "broken", "user", "user2", "orphan", "a b", "sub", "link", "dangling"}, names)

	for _, name := range []string{"web", "api", "db", "link"} {
		require.NoError(t, jobs[name].Err, name)
		require.Equal(t, name, jobs[name].Spec.Name)
		require.Equal(t, filepath.Join(dir, name+Suffix), jobs[name].Path)
		require.NotEmpty(t, jobs[name].Data)
	}
	require.Equal(t, Output{Kind: OutputFile, Path: filepath.Join(dir, "web.log")}, jobs["web"].Spec.Stdout)
	require.Equal(t, []string{"db"}, jobs["link"].Spec.Cmd)

	path := func(name string) string { return filepath.Join(dir, name+Suffix) }
	wantErr := map[string]string{
		"broken":   path("broken") + ":1:26: numprocs: expected an integer from 1 to 1024, got 0",
		"user":     path("user") + `: depends_on: job "broken" has errors (in ` + path("broken") + `), so this job could never start`,
		"user2":    path("user2") + `: depends_on: job "user" has errors (in ` + path("user") + `), so this job could never start`,
		"orphan":   path("orphan") + `: depends_on: unknown job "ghost" (no ghost.tm.json was found)`,
		"a b":      path("a b") + `: invalid job name "a b": use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
		"sub":      path("sub") + ": is a directory, not a job file",
		"dangling": path("dangling") + ": is a dangling symbolic link (to " + filepath.Join(dir, "nowhere") + "): there is no file where it leads",
	}
	for name, want := range wantErr {
		require.EqualError(t, jobs[name].Err, want, name)
	}
	require.Nil(t, jobs["broken"].Spec)
	require.NotNil(t, jobs["orphan"].Spec, "a set error keeps the spec")
	require.Nil(t, jobs["sub"].Data)

	runnable := Runnable(jobs)
	require.ElementsMatch(t, []string{"web", "api", "db", "link"}, mapKeys(runnable))
	require.Empty(t, CheckSet(runnable))
}

func TestLoadDirCycle(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"web.tm.json": `{"cmd": "x", "depends_on": ["db"]}`,
		"db.tm.json":  `{"cmd": "x", "depends_on": ["web"]}`,
		"app.tm.json": `{"cmd": "x", "depends_on": ["web"]}`,
	})
	jobs, err := LoadDir(dir)
	require.NoError(t, err)
	require.EqualError(t, jobs["web"].Err, filepath.Join(dir, "web.tm.json")+": depends_on: cycle web -> db -> web")
	require.EqualError(t, jobs["db"].Err, filepath.Join(dir, "db.tm.json")+": depends_on: cycle db -> web -> db")
	require.ErrorContains(t, jobs["app"].Err, `depends_on: job "web" has errors, so this job could never start`)
}

func TestLoadDirMissing(t *testing.T) {
	jobs, err := LoadDir(filepath.Join(t.TempDir(), "missing"))
	require.NoError(t, err)
	require.Empty(t, jobs)
	require.NotNil(t, jobs)
}

func TestLoadDirEmpty(t *testing.T) {
	jobs, err := LoadDir(t.TempDir())
	require.NoError(t, err)
	require.Empty(t, jobs)
}

func TestLoadDirNotADirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "jobs")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	jobs, err := LoadDir(file)
	require.Nil(t, jobs)
	require.ErrorContains(t, err, "read job directory "+file+":")
	require.ErrorContains(t, err, "not a directory")
}

func TestLoadDirTooLarge(t *testing.T) {
	dir := t.TempDir()
	big := make([]byte, 2*MaxFileSize)
	for i := range big {
		big[i] = ' '
	}
	writeFiles(t, dir, map[string]string{"big.tm.json": string(big)})
	jobs, err := LoadDir(dir)
	require.NoError(t, err)
	require.ErrorContains(t, jobs["big"].Err, "more than the 1048576 bytes (1 MiB)")
	require.Len(t, jobs["big"].Data, MaxFileSize+1)
}

// A FIFO named like a job file is refused, not waited on: opening it for
// reading would block until a writer came.
func TestLoadDirFIFO(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "pipe.tm.json"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ok.tm.json"), []byte(`{"cmd":"x"}`), 0o644))
	done := make(chan map[string]Loaded, 1)
	go func() {
		jobs, err := LoadDir(dir)
		require.NoError(t, err)
		done <- jobs
	}()
	select {
	case jobs := <-done:
		require.NoError(t, jobs["ok"].Err)
		require.ErrorContains(t, jobs["pipe"].Err, "not a regular file")
	case <-time.After(10 * time.Second):
		t.Fatal("LoadDir blocked on a FIFO")
	}
}
