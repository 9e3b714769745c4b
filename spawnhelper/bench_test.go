package spawnhelper

import (
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/reaper"
)

// BenchmarkStart starts /bin/true and waits for its exit, with the
// process holding `held` more descriptors (as taskmasterd holds two per
// running process), directly and through the helper, side by side.
func BenchmarkStart(b *testing.B) {
	for _, held := range []int{0, 1000, 4000, 16000} {
		for _, via := range []struct {
			name      string
			threshold int
		}{{"direct", 1 << 30}, {"helper", 0}} {
			b.Run(fmt.Sprintf("held=%d/%s", held, via.name), func(b *testing.B) {
				holdDescriptors(b, held)
				f := newForker(b, via.threshold)
				defer f.Close()
				null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
				require.NoError(b, err)
				defer null.Close()
				attr := &syscall.ProcAttr{Files: []uintptr{null.Fd(), null.Fd(), null.Fd()}, Sys: &syscall.SysProcAttr{Setpgid: true}}
				exited := make(chan reaper.Exit, 1)
				for b.Loop() {
					_, err := f.ForkExec("/bin/true", []string{"true"}, attr, func(e reaper.Exit) { exited <- e })
					require.NoError(b, err)
					<-exited
				}
			})
		}
	}
}

// holdDescriptors opens n descriptors (of /dev/null) until the benchmark
// ends.
func holdDescriptors(b *testing.B, n int) {
	null, err := os.Open(os.DevNull)
	require.NoError(b, err)
	fds := make([]int, 0, n)
	b.Cleanup(func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
		null.Close()
	})
	for range n {
		fd, err := syscall.Dup(int(null.Fd()))
		require.NoError(b, err)
		syscall.CloseOnExec(fd)
		fds = append(fds, fd)
	}
}
