// Command taskmasterd is a container-native init and process supervisor:
// run it as a container's entrypoint (PID 1) or anywhere as a subreaper.
//
//	taskmasterd [flags]                  supervise the jobs of -jobs DIR
//	taskmasterd [flags] -- CMD [ARGS...] run CMD like tini, beside the jobs of -jobs DIR if given
package main

import (
	"os"

	pid1 "github.com/taskmaster/taskmaster/init"
	"github.com/taskmaster/taskmaster/reexec"
)

func main() {
	reexec.Main()               // a umask helper execs its program here and never returns
	pid1.OwnSIGURG()            // may re-exec taskmasterd once, keeping its pid
	sigs := pid1.CatchSignals() // before anything else can run
	os.Exit(run(os.Args[1:], sigs))
}
