package jobs

// State is the state of one process instance. The names and meanings are
// supervisord's:
//
//	           start              starttime elapsed (or ready: ready.go)
//	STOPPED ──────────▶ STARTING ───────────────────▶ RUNNING
//	   ▲  ▲               │ died early                  │ exited
//	   │  │               ▼                             ▼
//	   │  │  retry     BACKOFF ◀── exited too soon ── EXITED ── autorestart ─▶ STARTING
//	   │  │  timer ────┘  │ more than startretries failures
//	   │  │               ▼
//	   │  │             FATAL (until start or repair)
//	   │  │
//	   │  └──── STOPPING ◀── stop (from STARTING or RUNNING): stopsignal, then
//	   │        process group gone     SIGKILL after stoptime
//	   └─ stop (from BACKOFF)
type State int

// The process states.
const (
	Stopped  State = iota // not running: never started, or stopped on request
	Starting              // started, not yet up for starttime (or, with a ready check, not yet ready)
	Running               // up for at least starttime (or ready)
	Backoff               // died before it counted as started; waiting to retry
	Stopping              // stop signal sent; waiting for the process group to end
	Exited                // ran, then exited on its own; not restarted (yet)
	Fatal                 // failed to start more than startretries times in a row
)

var stateNames = [...]string{"STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL"}

// String returns the state's supervisord name, such as "RUNNING".
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return "UNKNOWN"
	}
	return stateNames[s]
}

// hasProcess reports whether an instance in this state owns a live process
// (or process group) that must be stopped before it is forgotten.
func (s State) hasProcess() bool {
	return s == Starting || s == Running || s == Stopping
}

// active reports whether the instance is running or trying to.
func (s State) active() bool {
	return s == Starting || s == Running || s == Backoff
}

// ParseState returns the State named name ("RUNNING"), and false if there
// is none.
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// Why an instance is stopped or killed: the end of the detail of STOPPING
// (and of the log line that reports it), so that a user reading the log
// learns who asked.
const (
	whyStopRequest = "stop requested"
	whyStopAll     = "stop all requested"
	whyKillRequest = "kill requested"
	whyFileRemoved = "job file removed"
	whyFileChanged = "job file changed"
	whyRetired     = "numprocs lowered"
	whyShutdown    = "taskmasterd shutting down"
	whyHurry       = "second shutdown signal"
)
