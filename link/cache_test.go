package link

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/jobs"
)

// An event is encoded once however many sessions send it; the cache holds
// a bounded number of them; snapshots are never kept.
func TestEventCacheEncodesOnce(t *testing.T) {
	var c eventCache
	calls := 0
	encode := func(ev *jobs.Event) (string, any) {
		calls++
		return TypeJobFile, map[string]string{"job": ev.File.Job}
	}
	ev := &jobs.Event{Kind: jobs.FileChanged, File: jobs.FileEvent{Job: "web"}}
	for range 100 {
		e, err := c.get(ev, encode)
		require.NoError(t, err)
		require.Equal(t, TypeJobFile, e.typ)
		require.JSONEq(t, `{"job":"web"}`, string(e.data))
	}
	require.Equal(t, 1, calls)

	for range 2 * eventCacheSize {
		_, err := c.get(&jobs.Event{Kind: jobs.FileChanged}, encode)
		require.NoError(t, err)
	}
	require.Len(t, c.data, eventCacheSize)
	_, err := c.get(ev, encode) // long gone: encoded again
	require.NoError(t, err)
	require.Equal(t, 2+2*eventCacheSize, calls)

	snap := &jobs.Event{Kind: jobs.Snapshot}
	c.get(snap, encode)
	c.get(snap, encode)
	require.Equal(t, 4+2*eventCacheSize, calls)
}

// frame makes the message the decoder reads back.
func TestFrame(t *testing.T) {
	b := frame(42, TypeJobUpdate, []byte(`{"job":"web"}`))
	var m Message
	require.NoError(t, json.Unmarshal(b, &m))
	require.Equal(t, int64(42), m.Seq)
	require.Equal(t, TypeJobUpdate, m.Type)
	require.JSONEq(t, `{"job":"web"}`, string(m.Data))
}
