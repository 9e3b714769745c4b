package ctlproto

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// leakCheck fails t if, once t's later cleanups (such as a server's
// Shutdown) have run, goroutines of this package are still alive after a
// grace period. Call it first so that its cleanup runs last. Tests using it
// must not run in parallel with other tests of the package.
func leakCheck(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			leaked := packageGoroutines()
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d goroutines leaked:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// packageGoroutines returns the stacks of the goroutines other than the
// caller that run code of this package, test goroutines excepted.
func packageGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var ours []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 { // the calling goroutine comes first
			continue
		}
		if strings.Contains(g, "taskmaster/ctlproto.") && !strings.Contains(g, "testing.tRunner") {
			ours = append(ours, g)
		}
	}
	return ours
}
