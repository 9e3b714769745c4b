package pgstate

import (
	"bytes"
	"encoding/json"
	"syscall"
	"time"
)

// Entry is one process group taskmasterd started: a line of the journal.
type Entry struct {
	Boot       string         // the boot it was started in (/proc/sys/kernel/random/boot_id)
	PidNS      string         // the PID namespace its pid is from (readlink /proc/self/ns/pid)
	Pgid       int            // its process group
	Pid        int            // the group's leader, the process taskmasterd started
	Start      uint64         // the leader's start time (/proc/PID/stat field 22): tells it from a later process with the same pid
	Instance   string         // NAME:N
	StopSignal syscall.Signal // the job's stopsignal
	StopTime   time.Duration  // the job's stoptime
}

// line is the JSON of a journal line: a start (every field) or an end (op,
// pid and start only).
type line struct {
	Op         string `json:"op"` // "start" or "end"
	Boot       string `json:"boot,omitempty"`
	PidNS      string `json:"pidns,omitempty"`
	Pgid       int    `json:"pgid,omitempty"`
	Pid        int    `json:"pid"`
	Start      uint64 `json:"start"`
	Instance   string `json:"instance,omitempty"`
	StopSignal int    `json:"stopsignal,omitempty"`
	StopTimeMS int64  `json:"stoptime_ms,omitempty"`
}

// key names a process for good within one boot and PID namespace.
type key struct {
	pid   int
	start uint64
}

func (e *Entry) key() key { return key{e.Pid, e.Start} }

// startLine is the journal line that records e, newline included.
func startLine(e *Entry) []byte {
	return encodeLine(line{
		Op: "start", Boot: e.Boot, PidNS: e.PidNS, Pgid: e.Pgid, Pid: e.Pid, Start: e.Start,
		Instance: e.Instance, StopSignal: int(e.StopSignal), StopTimeMS: e.StopTime.Milliseconds(),
	})
}

// endLine is the journal line that records the end of the process k.
func endLine(k key) []byte {
	return encodeLine(line{Op: "end", Pid: k.pid, Start: k.start})
}

func encodeLine(l line) []byte {
	b, err := json.Marshal(l)
	if err != nil {
		panic("pgstate: encode a journal line: " + err.Error()) // plain strings and numbers cannot fail
	}
	return append(b, '\n')
}

// parseJournal returns the groups the journal records as started and not
// ended, in the order they started, keeping only those of id (pids of
// another boot or PID namespace name other processes), and how many lines
// it could not read. A last line without its newline is the write a crash
// cut short: it is ignored, as is any line that is not a journal line.
func parseJournal(data []byte, id identity) (live []Entry, bad int) {
	byKey := map[key]int{} // index in live
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			bad++ // torn
			break
		}
		raw := data[:i]
		data = data[i+1:]
		var l line
		if json.Unmarshal(raw, &l) != nil || l.Pid <= 0 {
			bad++
			continue
		}
		k := key{l.Pid, l.Start}
		switch l.Op {
		case "start":
			if l.Boot != id.boot || l.PidNS != id.pidNS || l.Pgid <= 0 {
				continue
			}
			byKey[k] = len(live)
			live = append(live, Entry{
				Boot: l.Boot, PidNS: l.PidNS, Pgid: l.Pgid, Pid: l.Pid, Start: l.Start, Instance: l.Instance,
				StopSignal: syscall.Signal(l.StopSignal), StopTime: time.Duration(l.StopTimeMS) * time.Millisecond,
			})
		case "end":
			if i, ok := byKey[k]; ok {
				live[i].Pid = 0 // dropped below, keeping the order
				delete(byKey, k)
			}
		default:
			bad++
		}
	}
	kept := live[:0]
	for _, e := range live {
		if e.Pid != 0 {
			kept = append(kept, e)
		}
	}
	return kept, bad
}
