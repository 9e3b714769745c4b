package pid1

import (
	"os"
	"runtime/debug"
)

// gcPercent is taskmasterd's GOGC unless the environment sets one.
//
// taskmasterd keeps little (about 1 KiB per supervised process) and makes
// its garbage in bursts: starting or stopping hundreds of processes, a
// status of all of them. With Go's default of 100, the heap may grow to
// 4 MiB before the first collection, and every page a burst touched stays
// resident: a few MiB for nothing. At 25 the heap stays near 1 MiB, for a
// few more collections of a small heap, which cost little.
const gcPercent = 25

// tuneGC sets gcPercent, unless GOGC says otherwise.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}
