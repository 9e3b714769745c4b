package jobs

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// drain returns what sub got until its channel was closed.
func drain(sub *Subscription) []*Event {
	var got []*Event
	for ev := range sub.C {
		got = append(got, ev)
	}
	return got
}

func newTestSub(buffer int) *Subscription {
	c := make(chan *Event, buffer)
	return &Subscription{C: c, c: c, lost: make(chan struct{})}
}

// The fan-out keeps the queue's order for every subscriber: events, a
// snapshot between them, a subscription ended, a reply after what came
// before it; and a subscriber that overflows is dropped with what it had
// room for, the others unharmed.
func TestFanoutKeepsTheOrderOfTheQueue(t *testing.T) {
	f := newFanout()
	a, b, small := newTestSub(16), newTestSub(16), newTestSub(2)
	e := make([]*Event, 5)
	for i := range e {
		e[i] = &Event{Kind: InstanceChanged, Instance: InstanceEvent{Index: i}}
	}
	snap := &Event{Kind: Snapshot}
	var delivered int // what a had when the reply ran
	f.q.push(
		delivery{op: addSub, sub: a}, delivery{op: addSub, sub: b}, delivery{op: addSub, sub: small},
		delivery{op: toAll, ev: e[0]}, delivery{op: toAll, ev: e[1]},
		delivery{op: toOne, sub: a, ev: snap, sent: new(bool)},
		delivery{op: toAll, ev: e[2]},
		delivery{op: removeSub, sub: b},
		delivery{op: toAll, ev: e[3]}, delivery{op: toAll, ev: e[4]},
		delivery{op: runReply, reply: func() { delivered = len(a.C) }},
	)
	go f.run()
	f.stop()
	require.Equal(t, 6, delivered, "the reply ran after the events before it")
	require.Equal(t, []*Event{e[0], e[1], snap, e[2], e[3], e[4]}, drain(a))
	require.Equal(t, []*Event{e[0], e[1], e[2]}, drain(b))
	require.Equal(t, []*Event{e[0], e[1]}, drain(small))
	require.True(t, isClosed(small.lost), "overflowed: dropped")
	require.False(t, isClosed(a.lost))
	require.False(t, isClosed(b.lost), "ended, not dropped")
}

// An answer waits for what is queued before it, even with no subscriber
// left (the end of the last one, just closed: Close returns once C is
// closed), and goes at once when nothing is.
func TestReplyWaitsForWhatIsQueued(t *testing.T) {
	s := New(Config{}) // no Run: the test is Run
	told := make(chan struct{})
	s.reply(func() { close(told) })
	require.True(t, isClosed(told), "nothing queued, no subscriber: at once")

	sub := newTestSub(1)
	s.fan.add(delivery{op: addSub, sub: sub})
	s.fan.add(delivery{op: removeSub, sub: sub})
	told = make(chan struct{})
	closedFirst := false
	s.reply(func() {
		select {
		case _, open := <-sub.C:
			closedFirst = !open
		default: // still open
		}
		close(told)
	})
	require.False(t, isClosed(told), "answered before what was queued")
	go s.fan.run()
	s.fan.flush()
	<-told
	require.True(t, closedFirst, "the answer came before the subscription ended")
	s.fan.stop()
}

// A snapshot asked for while events queued before it overflow the
// subscription is not put in, and says so: the live link answers a
// list_jobs_request from a new subscription then, instead of never.
func TestSnapshotBehindAQueuedOverflow(t *testing.T) {
	h := newHarness(t)
	sub, err := h.s.Subscribe(1)
	require.NoError(t, err)
	var sent *bool
	require.NoError(t, h.s.call(func() {
		for range 3 {
			h.s.publish(&Event{Kind: InstanceChanged})
		}
		sent = h.s.snapshotTo(sub, nil) // in the same turn: not dropped yet
	}))
	require.NotNil(t, sent, "the subscription had not ended when the snapshot was asked for")
	require.False(t, *sent)
	require.True(t, isClosed(sub.lost))
	require.ErrorIs(t, sub.Snapshot(h.ctx, nil), ErrSubscriptionEnded)
}
