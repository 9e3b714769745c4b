package pid1

// taskmasterd's own exit codes. When a critical job (or the command of
// single-command mode) ends, its exit code is taskmasterd's instead: the
// code it exited with, 128+n when signal n killed it, 127 when its program
// was not found and 126 when it could not be started.
const (
	// ExitOK: a shutdown asked for by a signal stopped every process
	// gracefully.
	ExitOK = 0
	// ExitError: taskmasterd could not start (unreadable jobs directory,
	// control address in use or not allowed, ...).
	ExitError = 1
	// ExitUsage: bad flags or arguments.
	ExitUsage = 2
	// ExitKilled: the shutdown had to SIGKILL something: a job that
	// outlived its stoptime, or a leftover process that outlived the grace
	// period, or everything because a second signal asked to hurry.
	ExitKilled = 3
)
