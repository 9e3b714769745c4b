package jobs

import (
	"sync"

	"github.com/taskmaster/taskmaster/reaper"
)

// exitEvent is the end of the process of an instance.
type exitEvent struct {
	in   *instance
	exit reaper.Exit
}

// exitQueue carries process exits from the reaper's goroutine to Run.
// Pushing never blocks: the reaper must not wait for Run, which may be busy
// (or, in a request, waiting to fork through the reaper's lock), and a
// killed job or a shutdown ends hundreds of processes at once, more than a
// channel's buffer holds. One queue replaces a goroutine per process.
type exitQueue struct {
	mu    sync.Mutex
	exits []exitEvent
	ready chan struct{} // holds a value when exits may be waiting
}

func newExitQueue() exitQueue {
	return exitQueue{ready: make(chan struct{}, 1)}
}

// push adds an exit and wakes Run.
func (q *exitQueue) push(ev exitEvent) {
	q.mu.Lock()
	q.exits = append(q.exits, ev)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default: // a wake-up is pending: Run takes this exit with the others
	}
}

// take returns the waiting exits, oldest first, and empties the queue.
func (q *exitQueue) take() []exitEvent {
	q.mu.Lock()
	defer q.mu.Unlock()
	evs := q.exits
	q.exits = nil
	return evs
}
