package jobfile

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkLoadDirOneChanged loads a directory of 1,000 job files of which
// one changed since the last load, as a reload after an edit does: LoadDir
// reads and parses every file, a Cache the changed one.
func BenchmarkLoadDirOneChanged(b *testing.B) {
	dir := b.TempDir()
	path := func(i int) string { return filepath.Join(dir, fmt.Sprintf("j%04d.tm.json", i)) }
	for i := range 1000 {
		if err := os.WriteFile(path(i), []byte(`{"cmd":"/bin/sleep 100000","starttime":0}`), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, bench := range []struct {
		name string
		load func(string) (map[string]Loaded, error)
	}{
		{"LoadDir", LoadDir},
		{"Cache", settledCache().LoadDir},
	} {
		b.Run(bench.name, func(b *testing.B) {
			if _, err := bench.load(dir); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				b.StopTimer()
				body := fmt.Sprintf(`{"cmd":"/bin/sleep %d","starttime":0}`, 100000+i%2)
				if err := os.WriteFile(path(500), []byte(body), 0o644); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				jobs, err := bench.load(dir)
				if err != nil || len(jobs) != 1000 {
					b.Fatal(len(jobs), err)
				}
			}
		})
	}
}
