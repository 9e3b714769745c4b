package dirwatch

import "time"

// debouncer decides when a burst of changes is notified: quiet after its
// last change, but no later than max after its first, so that a file
// rewritten without pause still reloads.
type debouncer struct {
	quiet, max time.Duration
	first      time.Time // first change of the pending burst; zero when none
}

// add records a change at now and returns when the burst is to be notified.
func (d *debouncer) add(now time.Time) time.Time {
	if d.first.IsZero() {
		d.first = now
	}
	at := now.Add(d.quiet)
	if limit := d.first.Add(d.max); limit.Before(at) {
		return limit
	}
	return at
}

// fired ends the pending burst.
func (d *debouncer) fired() { d.first = time.Time{} }

// debounceLoop turns the undebounced changes of w.raw into notifications
// on w.C. Its timer is armed only while a burst is pending: an idle loop
// sleeps in select and never wakes.
func (w *Watcher) debounceLoop(d debouncer) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var fire <-chan time.Time // timer.C while a burst is pending, else nil
	for {
		select {
		case <-w.done:
			return
		case <-w.raw:
			w.wakeups.Add(1)
			// Since Go 1.23 Reset discards a value the timer may already
			// have sent, so no stale firing can follow.
			timer.Reset(time.Until(d.add(time.Now())))
			fire = timer.C
		case <-fire:
			w.wakeups.Add(1)
			d.fired()
			fire = nil
			w.notify()
		}
	}
}
