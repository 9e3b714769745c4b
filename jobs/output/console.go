package output

import (
	"bytes"
	"io"
	"sync"
	"sync/atomic"
)

// consoleBatch is how many bytes of prefixed lines a Console gathers before
// it writes them: a write per batch rather than per line, with a buffer
// whose size does not depend on how many instances share the console.
const consoleBatch = 64 << 10

// Console is taskmasterd's own stdout or stderr, shared by every instance
// whose output goes there (so that docker logs shows it). Each line is
// written with the instance's prefix in front of it, and lines from
// different instances never mix.
//
// Write errors are counted and otherwise ignored: when nobody reads the
// console (EPIPE), instances must still run, so their output is drained and
// dropped rather than left to block them.
type Console struct {
	mu  sync.Mutex // held across each batch of lines, so lines never mix
	w   io.Writer  // guarded by mu
	buf []byte     // prefixed lines not written yet; guarded by mu

	failed atomic.Uint64
}

// NewConsole returns a Console that writes to w, usually os.Stdout or
// os.Stderr.
//
// When w is taskmasterd's fd 1 or 2, the process must catch or ignore
// SIGPIPE (signal.Notify or signal.Ignore): otherwise the Go runtime kills
// the process on the first write to a pipe that has no reader.
func NewConsole(w io.Writer) *Console {
	return &Console{w: w}
}

// Lines returns a Destination that writes to the console with prefix in
// front of every line, as in "web:0 | ". The Destination may be shared.
func (c *Console) Lines(prefix string) Destination {
	return consoleLines{c: c, prefix: prefix}
}

// WriteErrors returns how many writes to the console have failed. Each
// failed write lost up to consoleBatch bytes of lines.
func (c *Console) WriteErrors() uint64 {
	return c.failed.Load()
}

type consoleLines struct {
	c      *Console
	prefix string
}

func (d consoleLines) WriteLines(p []byte) {
	d.c.write(d.prefix, p)
}

func (c *Console) write(prefix string, p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line = p[:i+1]
		}
		p = p[len(line):]
		if len(c.buf) > 0 && len(c.buf)+len(prefix)+len(line)+1 > consoleBatch {
			c.flush()
		}
		c.buf = append(c.buf, prefix...)
		c.buf = append(c.buf, line...)
		if line[len(line)-1] != '\n' { // a caller broke the contract: still end the line
			c.buf = append(c.buf, '\n')
		}
	}
	c.flush()
}

// flush writes the gathered lines. c.mu must be held.
func (c *Console) flush() {
	if len(c.buf) == 0 {
		return
	}
	if _, err := c.w.Write(c.buf); err != nil {
		c.failed.Add(1)
	}
	c.buf = c.buf[:0]
}
