package output

import (
	"bytes"
	"context"
	"sync"
)

// DefaultRingCapacity is the capacity of the Ring the supervisor keeps for
// each instance.
const DefaultRingCapacity = 64 << 10

// minRingBuffer is the first allocation of a Ring that has been written to.
const minRingBuffer = 512

// Ring keeps the last bytes of an instance's output, both streams
// interleaved by line (each Write carries whole lines), and lets readers
// follow it: tail reads with Since, tail -f alternates Since and Wait.
//
// Positions are sequence numbers: seq n is the position after the first n
// bytes ever written, so a reader that got next from Since asks for
// Since(next) to get what came after, however much the ring dropped since.
//
// A Ring allocates nothing until it is written to, then grows by doubling
// up to its size: most instances write little, and a few hundred of them
// must not cost 64 KiB each.
type Ring struct {
	mu      sync.Mutex
	size    int           // capacity+1: the byte of seq q belongs at buf[q%size]
	buf     []byte        // grows to size; until then total < len(buf) and nothing has wrapped
	total   uint64        // bytes ever written
	written chan struct{} // closed and cleared by each Write: a broadcast to Wait; nil when nobody waits
}

// NewRing returns an empty Ring that keeps the last capacity bytes written.
// It panics if capacity is not positive.
func NewRing(capacity int) *Ring {
	if capacity <= 0 {
		panic("output: ring capacity must be positive")
	}
	// One byte more than is kept: the byte before the oldest kept one tells
	// whether the kept bytes start with a whole line.
	return &Ring{size: capacity + 1}
}

// Write appends p, dropping the oldest bytes beyond the capacity, and wakes
// every Wait. It never fails.
func (r *Ring) Write(p []byte) (int, error) {
	n := len(p)
	if n == 0 {
		return 0, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.grow(r.total + uint64(len(p)))
	if len(p) > r.size { // only the end of p survives
		r.total += uint64(len(p) - r.size)
		p = p[len(p)-r.size:]
	}
	for len(p) > 0 {
		c := copy(r.buf[r.total%uint64(r.size):], p)
		p = p[c:]
		r.total += uint64(c)
	}
	if r.written != nil {
		close(r.written)
		r.written = nil
	}
	return n, nil
}

// grow makes room for the bytes up to seq end. Before the buffer reaches
// its full size nothing has wrapped (seq q is at buf[q]), so growing is a
// copy. r.mu must be held.
func (r *Ring) grow(end uint64) {
	if len(r.buf) == r.size || end <= uint64(len(r.buf)) {
		return
	}
	n := max(2*len(r.buf), minRingBuffer)
	if end > uint64(n) {
		n = int(min(end, uint64(r.size)))
	}
	buf := make([]byte, min(n, r.size))
	copy(buf, r.buf[:r.total])
	r.buf = buf
}

// Since returns a copy of the bytes written after seq and the seq to ask for
// next time (the total written so far). When some bytes after seq are no
// longer kept, it returns the kept ones, from the first whole line on
// (unless a single line fills the ring), and truncated is true. A seq beyond
// what was written comes from another ring (the instance was replaced by a
// reload): it returns all that is kept, with truncated true.
func (r *Ring) Since(seq uint64) (data []byte, next uint64, truncated bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if seq > r.total {
		data, _, _ = r.sinceLocked(0)
		return data, r.total, true
	}
	return r.sinceLocked(seq)
}

func (r *Ring) sinceLocked(seq uint64) (data []byte, next uint64, truncated bool) {
	if seq == r.total {
		return nil, r.total, false
	}
	oldest := r.total - min(r.total, uint64(r.size-1))
	if seq >= oldest {
		return r.copyFrom(seq), r.total, false
	}
	// Bytes were dropped, so the buffer is full-size.
	data = r.copyFrom(oldest)
	if r.buf[(oldest-1)%uint64(r.size)] != '\n' { // oldest is mid-line
		if i := bytes.IndexByte(data, '\n'); i >= 0 && i+1 < len(data) {
			data = data[i+1:]
		}
	}
	return data, r.total, true
}

// copyFrom returns a copy of the bytes from seq on. r.mu must be held.
func (r *Ring) copyFrom(seq uint64) []byte {
	out := make([]byte, r.total-seq)
	at := int(seq % uint64(r.size))
	n := copy(out, r.buf[at:])
	copy(out[n:], r.buf) // the wrapped part, if any
	return out
}

// Wait blocks until more than seq bytes have been written, and returns nil,
// or until ctx ends, and returns ctx.Err(). A seq beyond what was written
// (see Since) returns at once.
func (r *Ring) Wait(ctx context.Context, seq uint64) error {
	for {
		r.mu.Lock()
		more := r.total != seq
		if !more && r.written == nil {
			r.written = make(chan struct{})
		}
		written := r.written
		r.mu.Unlock()
		if more {
			return nil
		}
		select {
		case <-written:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
