package attach

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// BenchmarkTap measures what attaching costs the reading of a process's
// output: every read of every stream passes through a tap. With nobody
// attached (the usual case) it is one atomic load; with sessions, a copy
// into each one's buffer, which a client takes from concurrently.
func BenchmarkTap(b *testing.B) {
	chunk := make([]byte, 512) // a read of a quiet process's output
	for _, n := range []int{0, 1, 8} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			p := NewPoint()
			pr := p.NewProcess(nil)
			tap, _ := pr.Stream()
			pr.Begin()
			ctx, cancel := context.WithCancel(context.Background())
			var clients sync.WaitGroup
			for range n {
				s, err := p.Attach(64 << 20) // never dropped here: what is measured is the copy
				if err != nil {
					b.Fatal(err)
				}
				clients.Go(func() {
					for {
						if _, end, err := s.Next(ctx); err != nil || end != nil {
							return
						}
					}
				})
			}
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				tap.Raw(chunk)
			}
			b.StopTimer()
			cancel()
			clients.Wait()
		})
	}
}
