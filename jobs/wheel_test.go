package jobs

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCheckSlot(t *testing.T) {
	require.Equal(t, time.Millisecond, checkSlot(10*time.Millisecond))
	require.Equal(t, 25*time.Millisecond, checkSlot(250*time.Millisecond))
	require.Equal(t, 100*time.Millisecond, checkSlot(time.Second))
	require.Equal(t, 100*time.Millisecond, checkSlot(time.Hour))

	base := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	slot := 100 * time.Millisecond
	require.Equal(t, base, inSlot(base, slot), "on a slot: as it is")
	require.Equal(t, base.Add(slot), inSlot(base.Add(time.Nanosecond), slot))
	require.Equal(t, base.Add(slot), inSlot(base.Add(99*time.Millisecond), slot))
}

// The wheel keeps one timer, for the earliest alarm, and fires the alarms
// due in time order.
func TestWheel(t *testing.T) {
	h := newHarness(t)
	var fired []string
	base := h.clock.Now()
	// settled waits until Run has settled after the last call: the wheel
	// is re-armed then.
	settled := func() { require.NoError(t, h.s.call(func() {})) }
	alarms := map[string]*alarm{}
	require.NoError(t, h.s.call(func() {
		for name, d := range map[string]time.Duration{"c": 3 * time.Second, "a": time.Second, "b": 2 * time.Second} {
			a := newAlarm(func() { fired = append(fired, name) })
			alarms[name] = a
			h.s.setAlarm(a, base.Add(d))
		}
		h.s.clearAlarm(alarms["b"])
		h.s.clearAlarm(alarms["b"]) // twice is fine
	}))
	settled()
	require.Equal(t, []time.Duration{time.Second}, h.clock.pending(), "one timer, for the earliest")
	h.advance(time.Second)
	require.Eventually(t, func() bool {
		var n int
		_ = h.s.call(func() { n = len(fired) })
		return n == 1
	}, 5*time.Second, time.Millisecond)
	settled()
	require.Equal(t, []time.Duration{2 * time.Second}, h.clock.pending(), "re-armed for the next")
	require.NoError(t, h.s.call(func() { h.s.clearAlarm(alarms["c"]) }))
	settled()
	require.Empty(t, h.clock.pending(), "no alarm, no timer")
	require.NoError(t, h.s.call(func() { require.Equal(t, []string{"a"}, fired) }))
}
