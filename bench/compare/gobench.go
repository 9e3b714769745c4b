package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// benchPackages returns the packages under root (as ./dir) that hold Go
// benchmarks, leaving out the end-to-end suite and this benchmark.
func benchPackages(root string) ([]string, error) {
	set := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			base := d.Name()
			if rel != "." && (strings.HasPrefix(base, ".") || base == "testdata" || base == "e2e" || base == "bench" || base == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte("\nfunc Benchmark")) {
			set["./"+filepath.ToSlash(filepath.Dir(rel))] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	pkgs := make([]string, 0, len(set))
	for p := range set {
		pkgs = append(pkgs, p)
	}
	slices.Sort(pkgs)
	return pkgs, nil
}

// benchLine is one result line of go test -bench.
type benchLine struct {
	pkg, name string
	metrics   map[string]float64 // by unit: ns/op, MB/s, B/op, allocs/op
}

// goBench runs the Go micro-benchmarks of the repository b.goCount times
// each and reports their medians, with the raw output.
func (b *bench) goBench(ctx context.Context) (string, error) {
	pkgs, err := benchPackages(b.root)
	if err != nil {
		return "", err
	}
	if len(pkgs) == 0 {
		return "## 9. Go micro-benchmarks\n\nNone found.\n", nil
	}
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", b.goBenchtime, "-count", strconv.Itoa(b.goCount)}, pkgs...)
	progress("go %s", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = b.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go test -bench: %w\n%s", err, out)
	}
	lines := parseBench(string(out))

	var order []string
	byName := map[string][]benchLine{}
	for _, l := range lines {
		key := l.pkg + "\x00" + l.name
		if _, ok := byName[key]; !ok {
			order = append(order, key)
		}
		byName[key] = append(byName[key], l)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "## 9. Go micro-benchmarks\n\n")
	fmt.Fprintf(&sb, "`go %s` (from the repository root). Median (min–max) of the %d counts.\n\n", strings.Join(args, " "), b.goCount)
	fmt.Fprintf(&sb, "| package | benchmark | ns/op | MB/s | B/op | allocs/op |\n|---|---|---|---|---|---|\n")
	for _, key := range order {
		ls := byName[key]
		cell := func(unit string) string {
			var xs []float64
			for _, l := range ls {
				if v, ok := l.metrics[unit]; ok {
					xs = append(xs, v)
				}
			}
			if len(xs) == 0 {
				return ""
			}
			s := summarize(xs)
			if unit == "B/op" || unit == "allocs/op" {
				return fmt.Sprintf("%.0f", s.median)
			}
			return s.medianRange()
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %s |\n", ls[0].pkg, ls[0].name, cell("ns/op"), cell("MB/s"), cell("B/op"), cell("allocs/op"))
	}
	fmt.Fprintf(&sb, "\n<details><summary>raw output</summary>\n\n```\n%s```\n\n</details>\n", out)
	return sb.String(), nil
}

// parseBench reads the result lines of go test -bench output.
func parseBench(out string) []benchLine {
	var lines []benchLine
	pkg := ""
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(strings.TrimSpace(rest), "github.com/taskmaster/taskmaster/")
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		l := benchLine{pkg: pkg, name: f[0], metrics: map[string]float64{}}
		// f[1] is the iteration count; then value-unit pairs.
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				l.metrics[f[i+1]] = v
			}
		}
		lines = append(lines, l)
	}
	return lines
}
