package jobs

import (
	"container/heap"
	"time"
)

// alarm is one point in time the supervisor must act at: the next run of
// a check, the timeout of a check under way, a watchdog's deadline. fire
// runs on the Run goroutine.
type alarm struct {
	due  time.Time
	idx  int // its index in the wheel's heap; -1 when not set
	fire func()
}

func newAlarm(fire func()) *alarm { return &alarm{idx: -1, fire: fire} }

// set reports whether the alarm is set.
func (a *alarm) set() bool { return a != nil && a.idx >= 0 }

// wheel holds every alarm in a heap ordered by due time, and keeps one
// clock timer armed for the earliest: however many checks run, taskmasterd
// has one timer for them all, no goroutine per check, and none at all when
// no alarm is set (jobs without checks cost nothing).
type wheel struct {
	alarms alarmHeap
	timer  Timer
	armed  time.Time // when timer fires; zero when no timer is armed
	seq    uint64    // tells a tick of the current timer from stale ones
}

// wheelTick is the firing of the wheel's timer.
type wheelTick struct{ seq uint64 }

// setAlarm sets a (again) to go off at due.
func (s *Supervisor) setAlarm(a *alarm, due time.Time) {
	a.due = due
	if a.idx >= 0 {
		heap.Fix(&s.wheel.alarms, a.idx)
		return
	}
	heap.Push(&s.wheel.alarms, a)
}

// clearAlarm unsets a, if it is set.
func (s *Supervisor) clearAlarm(a *alarm) {
	if a.set() {
		heap.Remove(&s.wheel.alarms, a.idx)
	}
}

// rearmWheel makes the clock timer match the earliest alarm. It runs after
// every event (settle), so that a batch of changes costs one timer.
func (s *Supervisor) rearmWheel() {
	w := &s.wheel
	var next time.Time
	if len(w.alarms) > 0 {
		next = w.alarms[0].due
	}
	if next.Equal(w.armed) {
		return
	}
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	w.seq++
	w.armed = next
	if next.IsZero() {
		return
	}
	seq := w.seq
	w.timer = s.clock.AfterFunc(max(next.Sub(s.now()), 0), func() { s.post(wheelTick{seq}) })
}

// wheelFired runs the alarms that are due.
func (s *Supervisor) wheelFired(t wheelTick) {
	w := &s.wheel
	if t.seq != w.seq {
		return // stopped or replaced after it fired
	}
	w.timer, w.armed = nil, time.Time{}
	now := s.now()
	for len(w.alarms) > 0 && !w.alarms[0].due.After(now) {
		a := heap.Pop(&w.alarms).(*alarm)
		a.fire()
	}
}

// checkSlot is how late a check may start so that checks due at about the
// same time start together: a tenth of its interval, from 1 ms to 100 ms.
// Its due time is rounded up to a multiple of that: the checks of
// instances started within one slot share a timer firing, and so do their
// next ones, an interval later.
func checkSlot(interval time.Duration) time.Duration {
	return min(max(interval/10, time.Millisecond), 100*time.Millisecond)
}

// inSlot rounds t up to a multiple of slot (since the Unix epoch).
func inSlot(t time.Time, slot time.Duration) time.Time {
	r := t.Truncate(slot)
	if r.Before(t) {
		r = r.Add(slot)
	}
	return r
}

// alarmHeap is a min-heap of alarms by due time.
type alarmHeap []*alarm

func (h alarmHeap) Len() int           { return len(h) }
func (h alarmHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h alarmHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}

func (h *alarmHeap) Push(x any) {
	a := x.(*alarm)
	a.idx = len(*h)
	*h = append(*h, a)
}

func (h *alarmHeap) Pop() any {
	old := *h
	a := old[len(old)-1]
	old[len(old)-1] = nil
	a.idx = -1
	*h = old[:len(old)-1]
	return a
}
