package link

import (
	"strconv"
	"sync"

	"github.com/taskmaster/taskmaster/internal/jsonx"
	"github.com/taskmaster/taskmaster/jobs"
)

// eventCacheSize is how many encoded events the cache keeps: sessions that
// keep up send an event within a few events of each other.
const eventCacheSize = 1024

// eventCache keeps the encoded data of the latest events. Every session
// sends every event, so each is encoded once rather than once per client:
// with 100 clients, that is most of the cost of an event.
type eventCache struct {
	mu    sync.Mutex
	data  map[*jobs.Event]encodedEvent
	order [eventCacheSize]*jobs.Event // a ring: the oldest is at next
	next  int
}

// encodedEvent is the type and the JSON data of an event's message.
type encodedEvent struct {
	typ  string
	data []byte
}

// get returns the encoded event, encoding it with encode on a miss. A
// snapshot (per session, with its request's seq) is not kept.
func (c *eventCache) get(ev *jobs.Event, encode func(*jobs.Event) (string, any)) (encodedEvent, error) {
	if ev.Kind == jobs.Snapshot {
		return encodeEvent(ev, encode)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.data[ev]; ok {
		return e, nil
	}
	e, err := encodeEvent(ev, encode)
	if err != nil {
		return e, err
	}
	if c.data == nil {
		c.data = make(map[*jobs.Event]encodedEvent, eventCacheSize)
	}
	if old := c.order[c.next]; old != nil {
		delete(c.data, old)
	}
	c.data[ev] = e
	c.order[c.next] = ev
	c.next = (c.next + 1) % eventCacheSize
	return e, nil
}

func encodeEvent(ev *jobs.Event, encode func(*jobs.Event) (string, any)) (encodedEvent, error) {
	typ, data := encode(ev)
	if typ == "" {
		return encodedEvent{}, nil
	}
	raw, err := jsonx.Marshal(data)
	return encodedEvent{typ: typ, data: raw}, err
}

// frame assembles one message around data, which is JSON already.
func frame(seq int64, typ string, data []byte) []byte {
	return appendFrame(make([]byte, 0, len(data)+len(typ)+32), seq, typ, data)
}

// appendFrame appends the message to b. Message types are plain names:
// they need no escaping.
func appendFrame(b []byte, seq int64, typ string, data []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"type":"`...)
	b = append(b, typ...)
	b = append(b, `","data":`...)
	b = append(b, data...)
	return append(b, '}')
}
