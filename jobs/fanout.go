package jobs

// fanout hands the supervisor's events to its subscribers on a goroutine
// of its own. Sending an event to a subscriber that waits for it readies
// that subscriber's goroutine: with a hundred live link clients, a state
// change readied a hundred goroutines from inside Run, and a stop of a
// hundred instances (two hundred changes) waited for twenty thousand of
// them before its last kill. Run now queues each change once, and the
// fan-out goroutine readies the subscribers while Run goes on.
//
// The order is kept: Run queues subscriptions, events, snapshots,
// unsubscriptions and its answers to requests in the order it makes them,
// and they are carried out in that order, so a subscriber gets exactly the
// events that happened between its Subscribe and its Close, with its
// snapshots where they were taken, and a request returns once the events
// it caused are with every subscriber, as when Run delivered them itself.
// Queuing never blocks Run; the queue holds pointers to events that every
// subscriber shares, and the fan-out goroutine never blocks either (a
// subscriber whose buffer is full is dropped), so it stays short.
type fanout struct {
	q    queue[delivery]
	subs map[*Subscription]struct{} // owned by run
	done chan struct{}
}

// delivery is one thing for the fan-out goroutine to do.
type delivery struct {
	op    deliveryOp
	sub   *Subscription // for addSub, toOne and removeSub
	ev    *Event        // for toAll and toOne
	sent  *bool         // for toOne: set when ev was put in
	reply func()        // for runReply
}

type deliveryOp uint8

const (
	addSub     deliveryOp = iota // start sending events to sub
	toAll                        // send ev to every subscriber
	toOne                        // send ev to sub (a snapshot)
	removeSub                    // end sub: close its channel
	runReply                     // answer a request (Supervisor.reply)
	stopFanout                   // end every subscription, and run
)

func newFanout() *fanout {
	return &fanout{q: newQueue[delivery](), subs: make(map[*Subscription]struct{}), done: make(chan struct{})}
}

// add queues d. The fan-out goroutine is woken by flush, which Run calls
// once a turn of its loop: the changes of a turn (a stop's hundred kills,
// a batch of exits) then reach each subscriber together (broadcast), and
// a live link client gets them in one write instead of one each. A lone
// change waits only for the end of the turn that made it, no timer.
func (f *fanout) add(d delivery) { f.q.add(d) }

// flush wakes the fan-out goroutine for what add queued.
func (f *fanout) flush() {
	if f.q.len() > 0 {
		f.q.wake()
	}
}

// run carries out the deliveries until stopFanout.
func (f *fanout) run() {
	defer close(f.done)
	for range f.q.ready {
		ds := f.q.take()
		for len(ds) > 0 {
			if n := leadingEvents(ds); n > 0 {
				f.broadcast(ds[:n])
				ds = ds[n:]
				continue
			}
			if !f.deliver(ds[0]) {
				return
			}
			ds = ds[1:]
		}
	}
}

// leadingEvents returns how many of ds, from the first, are events for
// every subscriber.
func leadingEvents(ds []delivery) int {
	for i, d := range ds {
		if d.op != toAll {
			return i
		}
	}
	return len(ds)
}

// broadcast sends a run of events to every subscriber, the whole run to
// one subscriber before the next: its writer, woken by the first event,
// then finds the others waiting and sends them together (the live link's
// Hold and Flush), where one event at a time to every subscriber woke
// each writer once per event.
func (f *fanout) broadcast(run []delivery) {
	for sub := range f.subs {
		for _, d := range run {
			if !f.send(sub, d.ev) {
				break
			}
		}
	}
}

// deliver carries out d, anything but an event for every subscriber
// (broadcast), and reports false once the fan-out has stopped.
func (f *fanout) deliver(d delivery) bool {
	switch d.op {
	case addSub:
		f.subs[d.sub] = struct{}{}
	case toOne:
		if _, ok := f.subs[d.sub]; ok {
			*d.sent = f.send(d.sub, d.ev)
		}
	case removeSub:
		f.remove(d.sub)
	case runReply:
		d.reply()
	case stopFanout:
		for sub := range f.subs {
			f.remove(sub)
		}
		return false
	}
	return true
}

// send gives ev to sub without waiting, and reports whether it did: a
// subscriber whose buffer is full has fallen too far behind, and is
// dropped.
func (f *fanout) send(sub *Subscription, ev *Event) bool {
	select {
	case sub.c <- ev:
		return true
	default:
		close(sub.lost)
		f.remove(sub)
		return false
	}
}

func (f *fanout) remove(sub *Subscription) {
	if _, ok := f.subs[sub]; ok {
		delete(f.subs, sub)
		close(sub.c)
	}
}

// stop ends every subscription once what was queued before is delivered,
// and waits for the fan-out goroutine to end.
func (f *fanout) stop() {
	f.q.push(delivery{op: stopFanout})
	<-f.done
}
