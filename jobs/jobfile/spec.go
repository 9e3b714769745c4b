// Package jobfile reads and validates taskmaster job files (*.tm.json).
//
// One file describes one job; the job's name is the file name without the
// ".tm.json" suffix. Parse turns the bytes of one file into a validated Spec;
// CheckSet validates what only a set of jobs can tell (depends_on).
// The package knows nothing of processes: it only says what a job is.
package jobfile

import (
	"syscall"
	"time"
)

// Suffix is the file name suffix of job files.
const Suffix = ".tm.json"

// AutoRestart says when an instance that ran past its starttime and exited is
// started again.
type AutoRestart int

// The autorestart policies, as supervisord names them.
const (
	RestartUnexpected AutoRestart = iota // restart when the exit code is not in exitcodes (default)
	RestartNever                         // never restart
	RestartAlways                        // always restart
)

// String returns the policy as it is written in a job file.
func (a AutoRestart) String() string {
	switch a {
	case RestartNever:
		return "false"
	case RestartAlways:
		return "true"
	default:
		return "unexpected"
	}
}

// Leftovers says what happens to the rest of an instance's process group
// (the background children its process started) when that process ends on
// its own: exits, crashes or is killed by someone else.
type Leftovers int

// The leftovers policies.
const (
	LeftoversStop Leftovers = iota // stopsignal to the rest of the group, SIGKILL after stoptime (default)
	LeftoversKeep                  // leave them running
)

// String returns the policy as it is written in a job file.
func (l Leftovers) String() string {
	if l == LeftoversKeep {
		return "keep"
	}
	return "stop"
}

// OutputKind says where one output stream of a job goes.
type OutputKind int

// The output destinations.
const (
	OutputConsole OutputKind = iota // taskmasterd's own stdout/stderr, each line prefixed with the instance name (default)
	OutputDiscard                   // /dev/null
	OutputFile                      // a file, appended to, created if missing
)

// Output is the destination of one output stream (stdout or stderr).
type Output struct {
	Kind OutputKind
	Path string // absolute path when Kind is OutputFile
}

// User is the resolved identity a job's processes run as.
type User struct {
	Spec   string   // as written in the file ("www-data", "1000", "1000:1000")
	UID    uint32   // user id
	GID    uint32   // primary group id
	Groups []uint32 // supplementary groups, set explicitly (never inherited from taskmasterd)
	Name   string   // user name when known, for USER and LOGNAME
	Home   string   // home directory when known, for HOME
}

// Spec is one validated job. The zero value is not valid: use Parse.
type Spec struct {
	Name           string            // job name: the file name without Suffix
	Cmd            []string          // program and arguments; Cmd[0] may be a bare name looked up in the job's PATH
	NumProcs       int               // instances to keep, 1..MaxNumProcs
	Umask          int               // file mode creation mask, or -1 to inherit taskmasterd's
	WorkingDir     string            // working directory; "" inherits taskmasterd's
	Env            map[string]string // merged over taskmasterd's environment
	AutoStart      bool              // start when taskmasterd starts or the job is loaded
	AutoRestart    AutoRestart       // restart policy after a process that ran past starttime exits
	ExitCodes      []int             // expected exit codes, sorted, without duplicates
	StartRetries   int               // consecutive failed starts retried before FATAL
	StartTime      time.Duration     // how long a process must stay up to count as started
	StopSignal     syscall.Signal    // sent to the process group to stop it
	StopTime       time.Duration     // wait after StopSignal before SIGKILL
	Leftovers      Leftovers         // what happens to the rest of the process group when the process ends on its own
	Stdout         Output            // where standard output goes
	Stderr         Output            // where standard error goes
	TTY            bool              // each process runs on a pseudo-terminal of its own; its output (one stream) goes to Stdout
	User           *User             // identity to run as; nil keeps taskmasterd's
	Critical       bool              // when the job ends for good, taskmasterd shuts down with its exit code
	DependsOn      []string          // jobs whose instances must all be RUNNING before this one starts
	ForwardSignals []syscall.Signal  // signals taskmasterd receives and passes on to this job's process groups
	Ready          *Probe            // how an instance proves it is ready; nil: it is once up for StartTime
	Health         *Probe            // the periodic check of a RUNNING instance; nil: none
}

// Limits on values in a job file.
const (
	MaxNumProcs     = 1024
	MaxStartRetries = 1000
	MaxSeconds      = 86400 // upper bound of starttime and stoptime
)
