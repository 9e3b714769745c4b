package ctl

import (
	"fmt"
	"strings"
)

// defaultDetachKeys is Docker's detach sequence, which users of docker
// attach already have in their fingers.
const defaultDetachKeys = "ctrl-p,ctrl-q"

// parseDetachKeys reads a detach sequence the way docker's --detach-keys
// does: comma-separated keys, each a single character or ctrl-<key> where
// key is a letter or one of @ [ \ ] ^ _.
func parseDetachKeys(s string) ([]byte, error) {
	var seq []byte
	for _, key := range strings.Split(s, ",") {
		b, err := parseKey(key)
		if err != nil {
			return nil, fmt.Errorf("-detach-keys %q: %w", s, err)
		}
		seq = append(seq, b)
	}
	return seq, nil
}

func parseKey(key string) (byte, error) {
	if len(key) == 1 {
		return key[0], nil
	}
	name, ok := strings.CutPrefix(strings.ToLower(key), "ctrl-")
	if ok && len(name) == 1 {
		switch c := name[0]; {
		case c >= 'a' && c <= 'z':
			return c - 'a' + 1, nil
		case strings.IndexByte("@[\\]^_", c) >= 0:
			return c - '@', nil
		}
	}
	return 0, fmt.Errorf("%q is not a key: write a character, or ctrl- and a letter or one of @ [ \\ ] ^ _ (as in ctrl-p,ctrl-q)", key)
}

// detacher finds the detach sequence in what the user types. Keys that
// begin the sequence are held back until it is clear whether they finish
// it: if they do not, they are passed on with the key that broke the
// sequence, as docker attach does.
type detacher struct {
	seq  []byte
	held int // how many keys of seq were typed last
}

// feed returns the keys of p to pass on, and whether the sequence is
// complete (the keys typed after it are dropped).
func (d *detacher) feed(p []byte) (out []byte, detach bool) {
	for _, b := range p {
		if b == d.seq[d.held] {
			d.held++
			if d.held == len(d.seq) {
				return out, true
			}
			continue
		}
		if d.held > 0 {
			out = append(out, d.seq[:d.held]...)
			d.held = 0
			if b == d.seq[0] {
				d.held = 1
				if len(d.seq) == 1 {
					return out, true
				}
				continue
			}
		}
		out = append(out, b)
	}
	return out, false
}
