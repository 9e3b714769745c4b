package jobs

import "sync"

// inbox carries what the checks learn, from the goroutines that learn it
// (a TCP or HTTP check's, the reaper's, the notify reader's), to Run, as
// functions Run calls. Pushing never blocks, like the exit queue: none of
// those goroutines may wait for Run.
type inbox struct {
	mu    sync.Mutex
	fs    []func()
	ready chan struct{} // holds a value when functions may be waiting
}

func newInbox() inbox { return inbox{ready: make(chan struct{}, 1)} }

// push adds f and wakes Run.
func (q *inbox) push(f func()) {
	q.mu.Lock()
	q.fs = append(q.fs, f)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default: // a wake-up is pending
	}
}

// take returns the waiting functions, oldest first, and empties the inbox.
func (q *inbox) take() []func() {
	q.mu.Lock()
	defer q.mu.Unlock()
	fs := q.fs
	q.fs = nil
	return fs
}
