// Command taskmasterd is a container-native init and process supervisor:
// run it as a container's entrypoint (PID 1) or anywhere as a subreaper.
//
//	taskmasterd [flags]                  supervise the jobs of -jobs DIR
//	taskmasterd [flags] -- CMD [ARGS...] run CMD like tini, beside the jobs of -jobs DIR if given
package main

import (
	"os"
	"runtime"

	pid1 "github.com/taskmaster/taskmaster/init"
	"github.com/taskmaster/taskmaster/init/early"
	"github.com/taskmaster/taskmaster/reexec"
	"github.com/taskmaster/taskmaster/spawnhelper"
)

// init keeps the main goroutine on the main thread. A goroutine that
// changes its thread's credentials (to open a job's log file as the job's
// user) never unlocks it, so the runtime ends that thread; the main thread
// cannot end, so no such goroutine may ever run on it.
func init() { runtime.LockOSThread() }

func main() {
	reexec.Main()                   // a umask helper execs its program here and never returns
	spawnhelper.Main()              // the spawn helper serves here and never returns
	pid1.OwnSIGURG()                // may re-exec taskmasterd once, keeping its pid
	sigs, sigErr := early.Signals() // caught during package initialisation
	os.Exit(run(os.Args[1:], sigs, sigErr))
}
