package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkStatus200 takes the status of every job, 20 jobs of 10
// instances, as a status command of taskmasterctl asks for it: the
// snapshot that control then encodes.
func BenchmarkStatus200(b *testing.B) {
	dir := b.TempDir()
	for i := range 20 {
		body := `{"cmd":"/bin/sleep 100","numprocs":10,"starttime":0}`
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("j%02d.tm.json", i)), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	starter := newFakeStarter()
	s := New(Config{Dir: dir, Starter: starter, Clock: newFakeClock(), Kill: starter.Kill, Reaps: starter.reaps})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-s.done }()
	go s.Run(ctx)
	if err := s.Reload(ctx, ""); err != nil {
		b.Fatal(err)
	}
	wait, cancelWait := context.WithTimeout(ctx, 10*time.Second)
	defer cancelWait()
	if err := s.Wait(wait, All, Running); err != nil {
		b.Fatalf("the 200 instances never all RUNNING: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Status(ctx, ""); err != nil {
			b.Fatal(err)
		}
	}
}
