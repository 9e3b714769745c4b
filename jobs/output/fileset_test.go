package output

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}

func TestFileAppendsAndCreatesWithUmask(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	require.NoError(t, os.WriteFile(path, []byte("before\n"), 0o600))
	set := NewFileSet(nil)
	f, err := set.Open(path)
	require.NoError(t, err)
	f.WriteLines([]byte("after\n"))
	require.NoError(t, f.Close())
	require.Equal(t, "before\nafter\n", readFile(t, path), "appended, never truncated")

	created := filepath.Join(t.TempDir(), "new.log")
	f, err = set.Open(created)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	umask := syscall.Umask(0)
	syscall.Umask(umask)
	info, err := os.Stat(created)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o666&^umask), info.Mode().Perm())
}

func TestFileOpenMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "app.log")
	_, err := NewFileSet(nil).Open(path)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, path)
}

func TestFileSharedByPathAndRefcounted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	set := NewFileSet(nil)
	a, err := set.Open(path)
	require.NoError(t, err)
	b, err := set.Open(filepath.Join(dir, ".", "app.log"))
	require.NoError(t, err)
	require.Same(t, a.lf, b.lf, "one descriptor per path")

	require.NoError(t, a.Close())
	require.ErrorIs(t, a.Close(), os.ErrClosed)
	b.WriteLines([]byte("still open\n"))
	require.NoError(t, b.Close())
	require.Empty(t, set.files)

	c, err := set.Open(path)
	require.NoError(t, err)
	require.NotSame(t, b.lf, c.lf, "opened again after the last close")
	c.WriteLines([]byte("again\n"))
	require.NoError(t, c.Close())
	require.Equal(t, "still open\nagain\n", readFile(t, path))
}

func TestReopenAfterRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	set := NewFileSet(nil)
	f, err := set.Open(path)
	require.NoError(t, err)
	defer f.Close()

	f.WriteLines([]byte("one\ntwo\n"))
	require.NoError(t, os.Rename(path, path+".1")) // as logrotate does
	f.WriteLines([]byte("three\n"))                // still the old file
	require.NoError(t, set.Reopen())
	f.WriteLines([]byte("four\n"))

	require.Equal(t, "one\ntwo\nthree\n", readFile(t, path+".1"))
	require.Equal(t, "four\n", readFile(t, path))
}

func TestReopenErrorNamesPathAndKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o755))
	path := filepath.Join(sub, "app.log")
	set := NewFileSet(nil)
	f, err := set.Open(path)
	require.NoError(t, err)
	defer f.Close()

	require.NoError(t, os.Rename(sub, filepath.Join(dir, "moved")))
	err = set.Reopen()
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, path)
	f.WriteLines([]byte("kept\n"))
	require.Equal(t, "kept\n", readFile(t, filepath.Join(dir, "moved", "app.log")))
}

func TestReopenDuringWritesLosesNoLine(t *testing.T) {
	const goroutines, lines, rotations = 8, 3000, 20
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	set := NewFileSet(nil)

	var wg sync.WaitGroup
	for g := range goroutines {
		f, err := set.Open(path)
		require.NoError(t, err)
		wg.Go(func() {
			defer f.Close()
			for i := range lines {
				f.WriteLines(fmt.Appendf(nil, "g%d line %d\n", g, i))
			}
		})
	}
	var rotateErrs []error
	for k := range rotations {
		if err := os.Rename(path, fmt.Sprintf("%s.%d", path, k)); err != nil {
			rotateErrs = append(rotateErrs, err)
		}
		rotateErrs = append(rotateErrs, set.Reopen())
	}
	wg.Wait()
	for _, err := range rotateErrs {
		require.NoError(t, err)
	}

	var all []string
	matches, err := filepath.Glob(path + "*")
	require.NoError(t, err)
	for _, m := range matches {
		all = append(all, splitLines(readFile(t, m))...)
	}
	seen := make(map[string]bool)
	for _, l := range all {
		require.False(t, seen[l], "line %q written twice", l)
		seen[l] = true
	}
	for g := range goroutines {
		for i := range lines {
			l := fmt.Sprintf("g%d line %d\n", g, i)
			require.True(t, seen[l], "line %q lost", l)
		}
	}
	require.Len(t, all, goroutines*lines)
}

func TestFileFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(path, 0o600))
	set := NewFileSet(nil)

	_, err := set.Open(path)
	require.ErrorIs(t, err, syscall.ENXIO, "a FIFO without a reader fails instead of blocking")

	// O_NONBLOCK: open the reader without waiting for the writer.
	reader, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	require.NoError(t, err)
	defer reader.Close()
	f, err := set.Open(path)
	require.NoError(t, err)
	got := make(chan string, 1)
	go func() {
		data, _ := io.ReadAll(reader)
		got <- string(data)
	}()

	src := strings.Repeat("through a fifo\n", 10_000) // more than the pipe holds
	require.NoError(t, Pump(strings.NewReader(src), f, nil))
	require.NoError(t, set.Reopen(), "reopening a FIFO neither seeks nor truncates")
	f.WriteLines([]byte("after reopen\n"))
	require.NoError(t, f.Close())
	require.Equal(t, src+"after reopen\n", <-got)
}

func TestFileWriteErrorLoggedOncePerOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(path, 0o600))
	reader, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	require.NoError(t, err)
	var logs bytes.Buffer
	set := NewFileSet(slog.New(slog.NewTextHandler(&logs, nil)))
	f, err := set.Open(path)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, reader.Close()) // writes now fail with EPIPE

	for range 5 {
		f.WriteLines([]byte("dropped\n"))
	}
	require.Equal(t, 1, strings.Count(logs.String(), "cannot write log file"), logs.String())
	require.Contains(t, logs.String(), path)
	require.Contains(t, logs.String(), "broken pipe")
}

func TestReopenBlockedOnAFullFIFODoesNotStallOpen(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	reader, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	require.NoError(t, err)
	defer reader.Close()
	pipeSize := setPipeSize(t, reader, 64<<10)
	set := NewFileSet(nil)
	f, err := set.Open(fifo)
	require.NoError(t, err)

	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		f.WriteLines(bytes.Repeat([]byte("x\n"), pipeSize)) // twice what the FIFO holds
	}()
	require.Eventually(t, func() bool { return unread(reader) == pipeSize }, 10*time.Second, time.Millisecond)
	reopened := make(chan error, 1)
	go func() { reopened <- set.Reopen() }()
	require.Eventually(t, func() bool { // Reopen has pinned the FIFO and waits for the write
		set.mu.Lock()
		defer set.mu.Unlock()
		return f.lf.refs == 2
	}, 10*time.Second, time.Millisecond)

	opened := make(chan error, 1)
	go func() {
		other, err := set.Open(filepath.Join(dir, "other.log"))
		if err == nil {
			err = other.Close()
		}
		opened <- err
	}()
	select {
	case err := <-opened:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Open blocked behind a Reopen waiting on a full FIFO")
	}

	drained := make(chan int64, 1)
	go func() {
		n, _ := io.Copy(io.Discard, reader)
		drained <- n
	}()
	<-wrote
	require.NoError(t, <-reopened)
	require.NoError(t, f.Close())
	require.Equal(t, int64(2*pipeSize), <-drained)
}
