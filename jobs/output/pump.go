package output

import (
	"bytes"
	"io"
)

// MaxLine is the longest line, newline excluded, that Pump passes on whole.
// A longer line is cut into pieces of MaxLine bytes, and each piece is passed
// on as a line of its own, with a newline added: the reader sees several
// lines where the process wrote one, but no byte is lost and memory stays
// bounded however long the process's lines are.
const MaxLine = 64 << 10

// Destination accepts the output of a stream, whole lines at a time.
type Destination interface {
	// WriteLines writes p, which holds one or more complete lines, each
	// ending in '\n' (a "\r\n" ending is left as it is). It must not keep p
	// after it returns. It reports no error: a pump must never stop draining
	// a pipe, so each destination deals with its own write errors. It may
	// block; Pump then stops reading, which pushes back on the process.
	WriteLines(p []byte)
}

// Tap sees a stream's bytes as they are read, before they are cut into
// lines: what a client attached to a terminal must see at once, a prompt
// without its newline included. It is called from the goroutine that reads
// the stream, with a slice valid only during the call; it must neither
// keep it nor block.
type Tap interface {
	Raw(p []byte)
}

// Discard is a Destination that drops every line: the output of a
// terminal job whose stdout is "discard" must still be read (and tapped),
// or its process would block once the terminal's buffer is full.
var Discard Destination = discard{}

type discard struct{}

func (discard) WriteLines([]byte) {}

// Pump copies src to dst and, when ring is not nil, to ring, line by line,
// until src ends. A final line without a newline gets one. It returns nil at
// io.EOF and the read error otherwise, after passing on what it had read.
//
// Each call to dst.WriteLines and ring.Write carries whole lines only, as
// many as one read brought in. Pump holds no more than maxBuffer bytes: its
// buffer starts at minBuffer bytes and doubles, up to maxBuffer, each time a
// read fills it, so a quiet stream costs little and a busy one soon gets
// large reads.
func Pump(src io.Reader, dst Destination, ring *Ring) error {
	return pumpTapped(src, dst, ring, nil)
}

// pumpTapped is Pump that also shows every read to tap, when not nil.
func pumpTapped(src io.Reader, dst Destination, ring *Ring, tap Tap) error {
	p := pump{dst: dst, ring: ring, tap: tap, buf: make([]byte, minBuffer)}
	for {
		n, err := src.Read(p.buf[p.held:])
		full := p.held+n == len(p.buf)
		p.take(n)
		if full {
			p.grow()
		}
		if err != nil {
			p.finish()
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// minBuffer is the size of Pump's buffer until a read fills it. Most
// processes write short lines now and then: one read of a few hundred bytes
// takes them all.
const minBuffer = 512

// maxBuffer is the size a busy stream's buffer grows to: a flood of output
// is read, written to its destination and copied to the ring a MiB at a
// time, so that each costs a sixteenth of the system calls and wake-ups of
// 64 KiB pieces, and the ring, which keeps only the last 64 KiB of each
// batch, copies a sixteenth of the bytes. It must exceed MaxLine: a
// stream holds at most MaxLine bytes of a line between reads.
const maxBuffer = 1 << 20

// pump is the state of one Pump call.
type pump struct {
	dst  Destination
	ring *Ring
	tap  Tap // may be nil
	buf  []byte
	held int // buf[:held] is the beginning of a line whose end is not read yet
}

// take handles the n bytes just read after the held ones: it passes on
// every whole line, cutting those over MaxLine, and keeps the rest.
func (p *pump) take(n int) {
	end := p.held + n
	if p.tap != nil && n > 0 {
		p.tap.Raw(p.buf[p.held:end])
	}
	from, at := 0, 0 // buf[from:at] is whole lines not passed on yet
	for end-at > MaxLine {
		// A line of at most MaxLine bytes and its newline fit in a window
		// of MaxLine+1 bytes: looking from its end finds the last newline
		// at once in the usual output of short lines, so a busy stream's
		// large read costs one look per window, not one per line.
		if i := bytes.LastIndexByte(p.buf[at:at+MaxLine+1], '\n'); i >= 0 {
			at += i + 1
			continue
		}
		if at > from {
			p.emit(p.buf[from:at])
		}
		at = p.cut(at)
		from = at
	}
	// The held bytes hold no newline (they are the start of a line), so
	// only what was just read is looked at: a line written a byte at a
	// time, up to MaxLine, would otherwise be searched whole after every
	// byte.
	look := max(at, p.held)
	if i := bytes.LastIndexByte(p.buf[look:end], '\n'); i >= 0 {
		at = look + i + 1
	}
	if at > from {
		p.emit(p.buf[from:at])
	}
	p.held = copy(p.buf, p.buf[at:end])
}

// grow doubles the buffer, up to maxBuffer bytes, keeping the held bytes: a
// read filled it, so more is likely waiting, or a line is longer than the
// buffer.
func (p *pump) grow() {
	if len(p.buf) >= maxBuffer {
		return
	}
	buf := make([]byte, min(2*len(p.buf), maxBuffer))
	copy(buf, p.buf[:p.held])
	p.buf = buf
}

// cut passes on the MaxLine bytes from at, which hold no newline, as a
// line of their own, and returns where the next piece starts. The byte
// after them is lent for the newline and given back.
func (p *pump) cut(at int) int {
	end := at + MaxLine
	next := p.buf[end] // first byte of the next piece
	p.buf[end] = '\n'
	p.emit(p.buf[at : end+1])
	p.buf[end] = next
	return end
}

// finish passes on the held bytes, if any, as a last line.
func (p *pump) finish() {
	if p.held == 0 {
		return
	}
	p.buf[p.held] = '\n' // there is room: a full buffer is grown at once, and held <= MaxLine < maxBuffer
	p.emit(p.buf[:p.held+1])
	p.held = 0
}

func (p *pump) emit(lines []byte) {
	p.dst.WriteLines(lines)
	if p.ring != nil {
		_, _ = p.ring.Write(lines) // a Ring never fails
	}
}
