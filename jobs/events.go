package jobs

import (
	"context"
	"errors"
	"time"
)

// EventKind says what an Event reports.
type EventKind uint8

// The kinds of events.
const (
	// InstanceChanged: an instance moved from one state to another.
	InstanceChanged EventKind = iota + 1
	// FileChanged: a job file was loaded for the first time, changed,
	// removed, or found invalid.
	FileChanged
	// ShuttingDown: taskmasterd began to stop every job.
	ShuttingDown
	// Snapshot: the state of every job, as Subscription.Snapshot asked.
	Snapshot
)

// Event is one change of the supervisor's state, or a snapshot of it.
// Events reach each subscriber in the order they happened; a snapshot sits
// among them where it was taken, so that the snapshot followed by the
// events after it is the exact current state.
type Event struct {
	Kind     EventKind
	Time     time.Time
	Instance InstanceEvent // for InstanceChanged
	File     FileEvent     // for FileChanged
	Jobs     []JobStatus   // for Snapshot
	Tag      any           // for Snapshot: what Snapshot was given
}

// InstanceEvent is the state change of one instance.
type InstanceEvent struct {
	Job      string
	Instance string // NAME:N
	Index    int
	From     string // the state it left
	Process         // the instance as it is now
}

// Process is the state of one instance, as events and snapshots carry it.
type Process = ProcessStatus

// The changes a FileEvent reports.
const (
	FileAdded   = "added"
	FileUpdated = "changed"
	FileRemoved = "removed"
	FileInvalid = "invalid"
)

// FileEvent is a change of one job file, as a reload applied it.
type FileEvent struct {
	Job    string
	Change string // FileAdded, FileUpdated, FileRemoved or FileInvalid
	Error  string // for FileInvalid: why the file is not used
}

// DefaultEventBuffer is the number of events a subscriber may fall behind
// by before it loses its subscription. Events travel as pointers, shared by
// every subscriber, so a buffer costs 8 bytes per event.
const DefaultEventBuffer = 1024

// Subscription receives the supervisor's events. A subscriber that falls
// more than its buffer behind is dropped rather than allowed to slow the
// supervisor down or make it keep events without bound: Lost is closed
// and no event comes any more. C is closed when the subscription ends:
// after Close, after Lost, or when the supervisor stops. Events are shared
// by every subscriber: they must not be changed.
type Subscription struct {
	C <-chan *Event

	sup  *Supervisor
	c    chan *Event
	lost chan struct{}
}

// Subscribe returns a subscription to the events that happen from now on,
// with room for buffer events (DefaultEventBuffer if not positive).
func (s *Supervisor) Subscribe(buffer int) (*Subscription, error) {
	if buffer <= 0 {
		buffer = DefaultEventBuffer
	}
	c := make(chan *Event, buffer)
	sub := &Subscription{C: c, sup: s, c: c, lost: make(chan struct{})}
	if err := s.call(func() {
		s.subs[sub] = struct{}{}
		s.fan.add(delivery{op: addSub, sub: sub})
	}); err != nil {
		return nil, err
	}
	return sub, nil
}

// Lost is closed when the subscriber fell too far behind and events were
// dropped: what it knows of the jobs is no longer exact.
func (sub *Subscription) Lost() <-chan struct{} { return sub.lost }

// ErrSubscriptionEnded is returned by Snapshot on a subscription that has
// ended: closed, or dropped for falling behind before its snapshot could
// be put in.
var ErrSubscriptionEnded = errors.New("subscription ended")

// Snapshot puts an event holding the status of every job into the
// subscription, after the events that happened before it and before the
// ones after. It returns ErrStopped if the supervisor has stopped, and
// ErrSubscriptionEnded if the subscription has.
func (sub *Subscription) Snapshot(ctx context.Context, tag any) error {
	s := sub.sup
	var sent *bool
	if err := s.call(func() { sent = s.snapshotTo(sub, tag) }); err != nil {
		return err
	}
	// call returned after the fan-out carried the snapshot out, or not.
	if sent == nil || !*sent {
		return ErrSubscriptionEnded
	}
	return nil
}

// snapshotTo queues a snapshot for sub, on Run. What it returns says,
// once the fan-out has got to it, whether the snapshot was put in: nil
// when sub had ended already; false when the fan-out had dropped it in the
// meantime (events queued before it overflowed its buffer).
func (s *Supervisor) snapshotTo(sub *Subscription, tag any) *bool {
	if _, ok := s.subs[sub]; !ok || isClosed(sub.lost) {
		return nil
	}
	jobs := make([]JobStatus, 0, len(s.jobs))
	for _, j := range s.allJobs() {
		jobs = append(jobs, jobStatus(j, j.live()))
	}
	sent := new(bool)
	s.fan.add(delivery{op: toOne, sub: sub, ev: &Event{Kind: Snapshot, Time: s.now(), Jobs: jobs, Tag: tag}, sent: sent})
	return sent
}

// Close ends the subscription; C is closed.
func (sub *Subscription) Close() {
	s := sub.sup
	_ = s.call(func() { s.unsubscribe(sub) })
}

// publish sends ev to every subscriber, by way of the fan-out goroutine
// (fanout.go). It never blocks: a subscriber whose buffer is full is
// dropped.
func (s *Supervisor) publish(ev *Event) {
	s.fan.add(delivery{op: toAll, ev: ev})
}

// reply answers a request: tell, a send that never blocks, runs once the
// events published before it have reached the subscribers, so that the
// events a request caused come before its answer to anyone who watches
// both (the live link sends a stop's STOPPED events, then the stop's
// response). With no subscriber and nothing queued for one (an answer
// already waiting, or the end of a subscription just closed), nobody can
// see them out of order, and it runs at once.
func (s *Supervisor) reply(tell func()) {
	if len(s.subs) == 0 && s.fan.q.len() == 0 {
		tell()
		return
	}
	s.fan.add(delivery{op: runReply, reply: tell})
}

func (s *Supervisor) unsubscribe(sub *Subscription) {
	if _, ok := s.subs[sub]; ok {
		delete(s.subs, sub)
		s.fan.add(delivery{op: removeSub, sub: sub})
	}
}

// closeSubscriptions ends every subscription when Run returns, once the
// events before are delivered.
func (s *Supervisor) closeSubscriptions() {
	clear(s.subs)
	s.fan.stop()
}

// isClosed reports whether c, a channel that is only ever closed, is.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// publishInstance tells subscribers that in moved from the state from.
func (s *Supervisor) publishInstance(in *instance, from State) {
	if len(s.subs) == 0 {
		return
	}
	s.publish(&Event{Kind: InstanceChanged, Time: in.since, Instance: InstanceEvent{
		Job: in.job.name, Instance: in.name, Index: in.index, From: from.String(), Process: processStatus(in),
	}})
}

// publishFile tells subscribers that a reload applied a change of a job file.
func (s *Supervisor) publishFile(job, change string, err error) {
	if len(s.subs) == 0 {
		return
	}
	ev := &Event{Kind: FileChanged, Time: s.now(), File: FileEvent{Job: job, Change: change}}
	if err != nil {
		ev.File.Error = err.Error()
	}
	s.publish(ev)
}
