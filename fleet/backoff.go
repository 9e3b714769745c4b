package fleet

import (
	"math/rand/v2"
	"time"
)

// Defaults of an agent's reconnection backoff.
const (
	DefaultBackoffMin = time.Second
	DefaultBackoffMax = 30 * time.Second
)

// backoff is the wait between an agent's connection attempts: Min after
// the first failure, doubling at each one up to Max, each wait drawn at
// random in its upper half, so that agents that lost their manager
// together do not come back together.
type backoff struct {
	min, max time.Duration
	n        uint
}

// next returns the wait before the next attempt.
func (b *backoff) next() time.Duration {
	d := b.max
	if b.n < 32 && b.min<<b.n < b.max && b.min<<b.n > 0 {
		d = b.min << b.n
	}
	b.n++
	half := d / 2
	return half + rand.N(d-half+1)
}

// reset starts again from min, after a connection that came through.
func (b *backoff) reset() { b.n = 0 }
