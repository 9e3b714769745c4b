package jobs

import "sync"

// queue carries values from goroutines that must never wait for Run (the
// reaper's, the launcher's, the checks', the notify reader's) to the one
// that takes them. Pushing never blocks: a killed job or a shutdown ends
// hundreds of processes at once, more than a channel's buffer holds, and
// the pusher may hold a lock Run is waiting for. One queue replaces a
// goroutine per value.
type queue[T any] struct {
	mu    sync.Mutex
	items []T
	ready chan struct{} // holds a value when items may be waiting
}

func newQueue[T any]() queue[T] { return queue[T]{ready: make(chan struct{}, 1)} }

// push adds v and wakes the taker.
func (q *queue[T]) push(vs ...T) {
	q.add(vs...)
	q.wake()
}

// add adds v without waking the taker: a pusher that adds several values
// at a time wakes it once, after the last.
func (q *queue[T]) add(vs ...T) {
	q.mu.Lock()
	q.items = append(q.items, vs...)
	q.mu.Unlock()
}

// wake wakes the taker.
func (q *queue[T]) wake() {
	select {
	case q.ready <- struct{}{}:
	default: // a wake-up is pending: the taker takes v with the others
	}
}

// take returns the waiting values, oldest first, and empties the queue.
func (q *queue[T]) take() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	vs := q.items
	q.items = nil
	return vs
}

// len returns how many values wait.
func (q *queue[T]) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}
