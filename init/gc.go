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

// tuneGC sets gcPercent when taskmasterd supervises a jobs directory,
// unless GOGC says otherwise. In plain single-command mode (`docker run
// IMAGE -- CMD`, no jobs) there are no bursts to trim, and a 1 MiB goal
// would only collect the garbage of the start-up itself, a collection
// that cost about 5 ms and 170 page faults of every `taskmasterd --
// /bin/true` on the machine of docs/benchmarks.md.
func tuneGC(cfg Config) {
	if _, set := os.LookupEnv("GOGC"); !set && cfg.LoadJobs {
		debug.SetGCPercent(gcPercent)
	}
}
