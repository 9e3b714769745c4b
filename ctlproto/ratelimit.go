package ctlproto

import (
	"sync"
	"time"
)

// logLimiter lets one log line through per interval and counts the lines it
// held back, so that a port scanner or a token guesser cannot flood the log.
type logLimiter struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// logInterval is the least time between two lines of one logLimiter.
const logInterval = time.Second

// allow reports whether a line may be logged at now, and if so how many
// lines were held back since the last one.
func (l *logLimiter) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < logInterval {
		l.suppressed++
		return false, 0
	}
	l.last, suppressed, l.suppressed = now, l.suppressed, 0
	return true, suppressed
}
