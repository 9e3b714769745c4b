package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
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

// BenchmarkPublish200To100 is what a stop of 100 instances (200 state
// changes) costs with 100 subscribers waiting for events, each read by a
// goroutine of its own, as the live link's clients are. ns/op is until
// every subscriber has every event; run-ns/op is the part of it that Run
// spends publishing, before it can go on with the stop.
func BenchmarkPublish200To100(b *testing.B) {
	const subscribers, changes = 100, 200
	starter := newFakeStarter()
	s := New(Config{Dir: b.TempDir(), Starter: starter, Clock: newFakeClock(), Kill: starter.Kill, Reaps: starter.reaps})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-s.done }()
	go s.Run(ctx)
	var got sync.WaitGroup // the events of this round, counted down by the readers
	for range subscribers {
		sub, err := s.Subscribe(0)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for range sub.C {
				got.Done()
			}
		}()
	}
	ev := &Event{Kind: InstanceChanged, Time: time.Now()}
	var inRun time.Duration
	b.ReportAllocs()
	for b.Loop() {
		got.Add(subscribers * changes)
		if err := s.call(func() {
			t0 := time.Now()
			for range changes {
				s.publish(ev)
			}
			inRun += time.Since(t0)
		}); err != nil {
			b.Fatal(err)
		}
		got.Wait()
	}
	b.ReportMetric(float64(inRun.Nanoseconds())/float64(b.N), "run-ns/op")
}
