package output

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	writers        = 20
	linesPerWriter = 2000
)

// testLine is line i of writer w, without its newline: its length varies
// from 0 to 10 KB, and its content says who wrote it.
func testLine(w, i int) string {
	n := (i * 37) % 300
	if i%100 == 7 {
		n = 10_000
	}
	head := fmt.Sprintf("w%02d i%04d ", w, i)
	return head + strings.Repeat(string(rune('a'+(w+i)%26)), n)
}

// writeTestLines writes every line of writer w to dst in chunks of random
// size, so that lines are split across writes and reads.
func writeTestLines(dst *os.File, w int) error {
	var all strings.Builder
	for i := range linesPerWriter {
		all.WriteString(testLine(w, i) + "\n")
	}
	data := all.String()
	rnd := rand.New(rand.NewPCG(uint64(w), 1))
	for len(data) > 0 {
		n := min(len(data), 1+rnd.IntN(20_000))
		if _, err := dst.WriteString(data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return dst.Close()
}

// tee is a Destination that writes to several.
type tee []Destination

func (t tee) WriteLines(p []byte) {
	for _, d := range t {
		d.WriteLines(p)
	}
}

func TestLinesNeverInterleave(t *testing.T) {
	dir := t.TempDir()
	consoleFile, err := os.Create(filepath.Join(dir, "console"))
	require.NoError(t, err)
	defer consoleFile.Close()
	console := NewConsole(consoleFile)
	set := NewFileSet(nil)
	shared := filepath.Join(dir, "shared.log")

	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	for w := range writers {
		f, err := set.Open(shared)
		require.NoError(t, err)
		r, pw := pipe(t)
		wg.Go(func() { errs <- writeTestLines(pw, w) })
		wg.Go(func() {
			defer f.Close()
			errs <- Pump(r, tee{console.Lines(fmt.Sprintf("job:%d | ", w)), f}, nil)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Zero(t, console.WriteErrors())

	checkLines(t, filepath.Join(dir, "console"), true)
	checkLines(t, shared, false)
}

// checkLines checks that the file at path holds every test line exactly once,
// each writer's in order, with the console prefix when prefixed.
func checkLines(t *testing.T, path string, prefixed bool) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	next := make([]int, writers) // next line expected from each writer
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var w, i, pw int
		var err error
		if prefixed {
			_, err = fmt.Sscanf(line, "job:%d | w%02d i%04d ", &pw, &w, &i)
		} else {
			_, err = fmt.Sscanf(line, "w%02d i%04d ", &w, &i)
			pw = w
		}
		require.NoError(t, err, "line %.80q", line)
		require.Equal(t, pw, w, "line %.80q has the prefix of another writer", line)
		require.Less(t, w, writers)
		require.Equal(t, next[w], i, "writer %d: lines lost, repeated or out of order", w)
		want := testLine(w, i)
		if prefixed {
			want = fmt.Sprintf("job:%d | ", w) + want
		}
		require.Equal(t, want, line, "line %d of writer %d", i, w)
		next[w]++
	}
	require.NoError(t, sc.Err())
	for w := range writers {
		require.Equal(t, linesPerWriter, next[w], "lines of writer %d", w)
	}
}
