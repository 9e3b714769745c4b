package notify

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// MaxStatus is the longest STATUS= text kept, in bytes; a longer one is
// cut.
const MaxStatus = 256

// Message is what one or more sd_notify datagrams said. Assignments
// taskmasterd has no use for (MAINPID=, RELOADING=1, FDSTORE=1, ...) are
// ignored, as systemd ignores those it does not know.
type Message struct {
	Ready           bool   // READY=1
	Stopping        bool   // STOPPING=1
	Watchdog        bool   // WATCHDOG=1: the process is alive
	WatchdogTrigger bool   // WATCHDOG=trigger: the process asks to be treated as hung
	HasStatus       bool   // a STATUS= came
	Status          string // the last STATUS= text, on one line
}

// Parse reads one datagram: assignments, one per line.
func Parse(data []byte) Message {
	var m Message
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		key, value, ok := bytes.Cut(line, []byte{'='})
		if !ok {
			continue
		}
		switch string(key) {
		case "READY":
			m.Ready = m.Ready || string(value) == "1"
		case "STOPPING":
			m.Stopping = m.Stopping || string(value) == "1"
		case "WATCHDOG":
			m.Watchdog = m.Watchdog || string(value) == "1"
			m.WatchdogTrigger = m.WatchdogTrigger || string(value) == "trigger"
		case "STATUS":
			m.HasStatus, m.Status = true, cleanStatus(value)
		}
	}
	return m
}

// merge adds what o said to m: o came later.
func (m *Message) merge(o Message) {
	m.Ready = m.Ready || o.Ready
	m.Stopping = m.Stopping || o.Stopping
	m.Watchdog = m.Watchdog || o.Watchdog
	m.WatchdogTrigger = m.WatchdogTrigger || o.WatchdogTrigger
	if o.HasStatus {
		m.HasStatus, m.Status = true, o.Status
	}
}

// cleanStatus makes a STATUS= text fit a status line: valid UTF-8, no
// control characters, at most MaxStatus bytes.
func cleanStatus(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > MaxStatus {
		cut := MaxStatus
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return strings.TrimSpace(s)
}
