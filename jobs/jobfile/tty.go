package jobfile

import "encoding/json"

// setTTY decodes tty.
func setTTY(p *parser, raw json.RawMessage) (err error) {
	p.spec.TTY, err = asBool(raw)
	return err
}

// checkTTY refuses stderr beside "tty": true. A terminal has one output
// stream, which carries what the program writes to stdout and stderr
// alike: stderr could not go anywhere of its own, and a file that stays
// empty would mislead whoever reads it.
func (p *parser) checkTTY(found map[string]member) {
	m, ok := found["stderr"]
	if !p.spec.TTY || !ok {
		return
	}
	p.errs.add(m.keyOff, m.key, `a job with "tty": true has one output stream, its terminal's, which goes where stdout says: remove stderr`, nil)
}
