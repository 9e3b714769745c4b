package output

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// BenchmarkPump measures how many bytes per second Pump moves from a pipe to
// a destination, as 100-byte lines written 64 lines per write.
func BenchmarkPump(b *testing.B) {
	b.Run("file", func(b *testing.B) {
		f, err := NewFileSet(nil).Open(filepath.Join(b.TempDir(), "bench.log"))
		require.NoError(b, err)
		defer f.Close()
		benchmarkPump(b, f, nil)
	})
	b.Run("console", func(b *testing.B) {
		benchmarkPump(b, NewConsole(io.Discard).Lines("bench:0 | "), nil)
	})
	b.Run("console+ring", func(b *testing.B) {
		benchmarkPump(b, NewConsole(io.Discard).Lines("bench:0 | "), NewRing(DefaultRingCapacity))
	})
}

// BenchmarkPoller is BenchmarkPump through a Poller, which taskmasterd uses.
func BenchmarkPoller(b *testing.B) {
	p, err := NewPoller()
	require.NoError(b, err)
	defer p.Close()
	pump := func(r *os.File, dst Destination, ring *Ring) error {
		fd, err := unix.Dup(int(r.Fd()))
		if err != nil {
			return err
		}
		done := make(chan struct{})
		p.Add(fd, dst, ring, func() { close(done) })
		<-done
		return nil
	}
	b.Run("console", func(b *testing.B) {
		benchmarkWith(b, pump, NewConsole(io.Discard).Lines("bench:0 | "), nil)
	})
	b.Run("console+ring", func(b *testing.B) {
		benchmarkWith(b, pump, NewConsole(io.Discard).Lines("bench:0 | "), NewRing(DefaultRingCapacity))
	})
}

func benchmarkPump(b *testing.B, dst Destination, ring *Ring) {
	benchmarkWith(b, func(r *os.File, dst Destination, ring *Ring) error { return Pump(r, dst, ring) }, dst, ring)
}

func benchmarkWith(b *testing.B, pump func(*os.File, Destination, *Ring) error, dst Destination, ring *Ring) {
	const lineLen, perWrite = 100, 64
	line := append(bytes.Repeat([]byte("x"), lineLen-1), '\n')
	chunk := bytes.Repeat(line, perWrite)
	r, w := pipe(b)
	wrote := make(chan error, 1)
	b.SetBytes(lineLen)
	b.ResetTimer()
	go func() {
		defer w.Close()
		for left := b.N; left > 0; left -= perWrite {
			if _, err := w.Write(chunk[:min(left, perWrite)*lineLen]); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	require.NoError(b, pump(r, dst, ring))
	b.StopTimer()
	require.NoError(b, <-wrote)
}

// BenchmarkPumpTrickle feeds Pump a line of MaxLine bytes a few bytes per
// read, as a progress meter that rewrites itself with "\r" and never ends
// its line does: what a read costs while a long line is held.
func BenchmarkPumpTrickle(b *testing.B) {
	line := bytes.Repeat([]byte("0123456789abcde\r"), MaxLine/16)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		r := &chunkReader{data: line, chunk: 16}
		require.NoError(b, Pump(r, NewConsole(io.Discard).Lines("bench:0 | "), nil))
	}
}

// chunkReader reads data chunk bytes at a time.
type chunkReader struct {
	data  []byte
	chunk int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.chunk)], r.data)
	r.data = r.data[n:]
	return n, nil
}
