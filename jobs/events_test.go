package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// next returns the next event of sub, failing the test if none comes.
func next(t *testing.T, sub *Subscription) *Event {
	t.Helper()
	select {
	case ev, ok := <-sub.C:
		require.True(t, ok, "the subscription ended")
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event came")
		return nil
	}
}

// A subscriber sees the file being loaded, then every state change of
// every instance, in order, with the pid and the state it left.
func TestEventsFollowEveryStateChange(t *testing.T) {
	h := newHarness(t)
	sub, err := h.s.Subscribe(0)
	require.NoError(t, err)
	h.write("web", `{"cmd":"/bin/sleep 100","starttime":0,"stoptime":1}`)
	h.reload()
	ev := next(t, sub)
	require.Equal(t, FileChanged, ev.Kind)
	require.Equal(t, FileEvent{Job: "web", Change: FileAdded}, ev.File)
	ev = next(t, sub)
	require.Equal(t, InstanceChanged, ev.Kind)
	require.Equal(t, "web", ev.Instance.Job)
	require.Equal(t, "web:0", ev.Instance.Instance)
	require.Equal(t, "STOPPED", ev.Instance.From)
	require.Equal(t, "RUNNING", ev.Instance.State)
	pid := ev.Instance.Pid
	require.NotZero(t, pid)

	require.NoError(t, h.s.Stop(h.ctx, "web"))
	ev = next(t, sub)
	require.Equal(t, "RUNNING", ev.Instance.From)
	require.Equal(t, "STOPPING", ev.Instance.State)
	require.Equal(t, pid, ev.Instance.Pid)
	ev = next(t, sub)
	require.Equal(t, "STOPPING", ev.Instance.From)
	require.Equal(t, "STOPPED", ev.Instance.State)
	require.Zero(t, ev.Instance.Pid)
	require.NotNil(t, ev.Instance.ExitCode)
}

// A request returns once the events it caused are with every
// subscriber: the live link answers a stop after its STOPPED events.
func TestRequestReturnsAfterItsEventsAreDelivered(t *testing.T) {
	h := newHarness(t)
	subs := make([]*Subscription, 20)
	for i := range subs {
		var err error
		subs[i], err = h.s.Subscribe(0)
		require.NoError(t, err)
	}
	h.write("web", `{"cmd":"/bin/sleep 100","starttime":0,"numprocs":3}`)
	h.reload()
	require.NoError(t, h.s.Wait(h.ctx, "web", Running))
	require.NoError(t, h.s.Stop(h.ctx, "web"))
	for i, sub := range subs {
		stopped := 0
		for len(sub.C) > 0 { // what is there now, without waiting
			if ev := <-sub.C; ev.Kind == InstanceChanged && ev.Instance.State == "STOPPED" {
				stopped++
			}
		}
		require.Equal(t, 3, stopped, "subscriber %d: the STOPPED events when Stop returned", i)
	}
}

// An invalid edit, and the file's removal, are events too.
func TestEventsReportJobFiles(t *testing.T) {
	h := newHarness(t)
	h.write("web", `{"cmd":"/bin/sleep 100","autostart":false}`)
	h.reload()
	sub, err := h.s.Subscribe(0)
	require.NoError(t, err)
	h.write("web", `{"cmd":"/bin/sleep 100","autostart":"no"}`)
	h.reload()
	ev := next(t, sub)
	require.Equal(t, FileInvalid, ev.File.Change)
	require.Contains(t, ev.File.Error, "autostart")
	h.write("web", `{"cmd":"/bin/sleep 100","autostart":false}`)
	h.reload()
	require.Equal(t, FileEvent{Job: "web", Change: FileUpdated}, next(t, sub).File)
	h.remove("web")
	h.reload()
	require.Equal(t, FileEvent{Job: "web", Change: FileRemoved}, next(t, sub).File)
}

// A snapshot comes after the events before it and before the ones after,
// so that the snapshot plus the events after it are the current state.
func TestSnapshotSitsAmongTheEvents(t *testing.T) {
	h := newHarness(t)
	h.write("web", quick)
	sub, err := h.s.Subscribe(0)
	require.NoError(t, err)
	h.reload()
	h.await("web", Running) // its start is told once made (launch.go)
	require.NoError(t, sub.Snapshot(h.ctx, "tag"))
	require.NoError(t, h.s.Stop(h.ctx, "web"))
	var kinds []EventKind
	for range 5 {
		ev := next(t, sub)
		kinds = append(kinds, ev.Kind)
		if ev.Kind == Snapshot {
			require.Equal(t, "tag", ev.Tag)
			require.Len(t, ev.Jobs, 1)
			require.Equal(t, "RUNNING", ev.Jobs[0].Processes[0].State)
		}
	}
	require.Equal(t, []EventKind{FileChanged, InstanceChanged, Snapshot, InstanceChanged, InstanceChanged}, kinds)
}

// A subscriber that does not read loses its subscription instead of
// holding the supervisor up, and the others keep theirs.
func TestSlowSubscriberIsDropped(t *testing.T) {
	h := newHarness(t)
	slow, err := h.s.Subscribe(2)
	require.NoError(t, err)
	fast, err := h.s.Subscribe(0)
	require.NoError(t, err)
	h.write("web", `{"cmd":"/bin/sleep 100","starttime":0,"numprocs":4}`)
	h.reload() // a file event and four state changes: more than 2
	select {
	case <-slow.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("the slow subscriber was not dropped")
	}
	n := 0
	for range slow.C {
		n++
	}
	require.Equal(t, 2, n, "a dropped subscription keeps what it had, then ends")
	require.ErrorIs(t, slow.Snapshot(h.ctx, nil), ErrSubscriptionEnded)
	require.Equal(t, FileChanged, next(t, fast).Kind)
	for range 4 {
		require.Equal(t, InstanceChanged, next(t, fast).Kind)
	}
	select {
	case <-fast.Lost():
		t.Fatal("the fast subscriber was dropped")
	default:
	}
}

// Shutdown is announced, and the subscription ends when the supervisor
// stops.
func TestShutdownIsAnEventAndStopEndsSubscriptions(t *testing.T) {
	h := newHarness(t)
	sub, err := h.s.Subscribe(0)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	defer cancel()
	_, err = h.s.Shutdown(ctx)
	require.NoError(t, err)
	require.Equal(t, ShuttingDown, next(t, sub).Kind)
	sub.Close()
	_, ok := <-sub.C
	require.False(t, ok)
	require.ErrorIs(t, sub.Snapshot(h.ctx, nil), ErrSubscriptionEnded)
}
