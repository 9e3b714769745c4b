package jobs

import (
	"github.com/taskmaster/taskmaster/reaper"
)

// exitEvent is the end of the process of an instance, or (launch set) the
// outcome of a start (launch.go). Both travel in one queue so that the
// start of a process is always handled before its end.
type exitEvent struct {
	in     *instance
	exit   reaper.Exit
	launch *launchResult
}
