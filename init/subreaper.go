package pid1

import (
	"log/slog"
	"os"

	"golang.org/x/sys/unix"
)

// BecomeSubreaper makes taskmasterd the reaper of its orphaned descendants
// when it is not PID 1 (PID 1 is the reaper of everything in its PID
// namespace already). It reports whether orphans will come to taskmasterd.
func BecomeSubreaper(log *slog.Logger) bool {
	if os.Getpid() == 1 {
		return true
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		log.Warn("cannot become a child subreaper: orphans of jobs will be reaped by the system's init, not by taskmasterd", "err", err)
		return false
	}
	return true
}
