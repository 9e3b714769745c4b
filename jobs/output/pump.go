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

// Pump copies src to dst and, when ring is not nil, to ring, line by line,
// until src ends. A final line without a newline gets one. It returns nil at
// io.EOF and the read error otherwise, after passing on what it had read.
//
// Each call to dst.WriteLines and ring.Write carries whole lines only, as
// many as one read brought in. Pump holds no more than MaxLine+1 bytes: its
// buffer starts at minBuffer bytes and doubles, up to MaxLine+1, each time a
// read fills it, so a quiet stream costs little and a busy one soon gets
// large reads.
func Pump(src io.Reader, dst Destination, ring *Ring) error {
	p := pump{dst: dst, ring: ring, buf: make([]byte, minBuffer)}
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

// pump is the state of one Pump call.
type pump struct {
	dst  Destination
	ring *Ring
	buf  []byte
	held int // buf[:held] is the beginning of a line whose end is not read yet
}

// take handles the n bytes just read after the held ones.
func (p *pump) take(n int) {
	end := p.held + n
	// The held bytes hold no newline, so only the new ones need a look.
	if i := bytes.LastIndexByte(p.buf[p.held:end], '\n'); i >= 0 {
		i += p.held + 1
		p.emit(p.buf[:i])
		p.held = copy(p.buf, p.buf[i:end])
		return
	}
	p.held = end
	if p.held == MaxLine+1 {
		p.cut()
	}
}

// grow doubles the buffer, up to MaxLine+1 bytes, keeping the held bytes: a
// read filled it, so more is likely waiting, or a line is longer than the
// buffer.
func (p *pump) grow() {
	if len(p.buf) == MaxLine+1 {
		return
	}
	buf := make([]byte, min(2*len(p.buf), MaxLine+1))
	copy(buf, p.buf[:p.held])
	p.buf = buf
}

// cut passes on the first MaxLine bytes of a full-size buffer that holds no
// newline as a line of their own. The buffer has one byte more than MaxLine
// so that a line of exactly MaxLine bytes and its newline fit and are not
// cut.
func (p *pump) cut() {
	next := p.buf[MaxLine] // first byte of the next piece
	p.buf[MaxLine] = '\n'
	p.emit(p.buf)
	p.buf[0] = next
	p.held = 1
}

// finish passes on the held bytes, if any, as a last line.
func (p *pump) finish() {
	if p.held == 0 {
		return
	}
	p.buf[p.held] = '\n' // there is room: a full buffer is grown or cut at once
	p.emit(p.buf[:p.held+1])
	p.held = 0
}

func (p *pump) emit(lines []byte) {
	p.dst.WriteLines(lines)
	if p.ring != nil {
		_, _ = p.ring.Write(lines) // a Ring never fails
	}
}
