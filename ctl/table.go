package ctl

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// row is one line of the status table, before alignment.
type row struct {
	agent, name, state, pid, uptime, restarts, exit, health, detail string
}

// writeTable prints jobs as the status table: one row per process, or one
// row for a job without processes (an INVALID job), aligned (writeColumns).
// An AGENT column comes first on a fleet manager, and a HEALTH column
// (readiness and health) after STATE when some process has a ready or
// health check: tables without them stay as they were.
func writeTable(w io.Writer, jobs []jobStatus, now time.Time, color bool) {
	cols := columns{agent: hasAgents(jobs), health: anyChecks(jobs)} // AGENT on a fleet manager; HEALTH with checks
	rows := [][]string{cells(row{"AGENT", "NAME", "STATE", "PID", "UPTIME", "RESTARTS", "EXIT", "HEALTH", "DETAIL"}, cols, color, colorHeader)}
	for _, j := range jobs {
		for _, r := range jobRows(j, now) {
			r.agent = agentCell(j)
			if j.Agent != "" { // the AGENT column says it: NAME as the agent says it
				r.name = strings.TrimPrefix(r.name, j.Agent+"/")
			}
			rows = append(rows, cells(r, cols, color, stateColor(r)))
		}
	}
	// One write for the whole table: a write per row cost 200 system calls
	// for a status of 200 processes.
	writeColumns(w, rows)
}

// columns says which of the optional columns a table has.
type columns struct{ agent, health bool }

// cells are the cells of one row, the STATE cell painted when color is
// on, the AGENT cell first and the HEALTH cell after STATE when the table
// has them.
func cells(r row, cols columns, color bool, c sgr) []string {
	state := oneLine(r.state)
	if color {
		state = paint(c, state)
	}
	cs := make([]string, 0, 9)
	if cols.agent {
		cs = append(cs, oneLine(r.agent))
	}
	cs = append(cs, oneLine(r.name), state)
	if cols.health {
		cs = append(cs, oneLine(r.health))
	}
	return append(cs, oneLine(r.pid), oneLine(r.uptime), oneLine(r.restarts), oneLine(r.exit), oneLine(r.detail))
}

// anyChecks reports whether some process has a ready or health check.
func anyChecks(jobs []jobStatus) bool {
	for _, j := range jobs {
		for _, p := range j.Processes {
			if p.Ready != "" || p.Health != "" {
				return true
			}
		}
	}
	return false
}

// healthCell is a process's HEALTH: its health check's verdict when it has
// one running, else its readiness ("not ready" while STARTING), else "-".
func healthCell(p processStatus) string {
	switch {
	case p.Health == "healthy" && p.HealthFailures > 0:
		return fmt.Sprintf("healthy (%d failed)", p.HealthFailures)
	case p.Health != "":
		return p.Health
	case p.Ready == "waiting":
		return "not ready"
	case p.Ready != "":
		return p.Ready
	}
	return "-"
}

// cellBreaks would end a row or a cell early: a job file error often spans
// lines.
var cellBreaks = strings.NewReplacer("\r\n", "; ", "\n", "; ", "\r", " ", "\t", " ")

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "\r\n\t") { // Replace copies s even when it has nothing to replace
		s = cellBreaks.Replace(s)
	}
	return visible(s)
}

// visible shows the terminal controls in s as escapes (\x1b, \u009b)
// instead of letting them reach the terminal. Much of what taskmasterctl
// prints comes from others: an exec check's output and an http check's
// answer are the job's program's, everything of an agent's jobs on a
// fleet manager is the agent's; a control sequence in them could retitle
// the window, write the clipboard (OSC 52), or move the cursor and erase
// lines so that a failing job looks fine. Newlines are the caller's
// business (oneLine joins lines; a message may span them).
func visible(s string) string {
	if !strings.ContainsFunc(s, isControl) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n == 1: // not UTF-8
			fmt.Fprintf(&b, "\\x%02x", s[0])
		case isControl(r) && r < 0x80:
			fmt.Fprintf(&b, "\\x%02x", r)
		case isControl(r):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

// isControl reports whether r is a C0 or C1 control other than a newline,
// or DEL.
func isControl(r rune) bool {
	return (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0)
}

func jobRows(j jobStatus, now time.Time) []row {
	if len(j.Processes) == 0 {
		return []row{{name: j.Name, state: j.State, pid: "-", uptime: "-", restarts: "-", exit: "-", health: "-", detail: j.Error}}
	}
	rows := make([]row, len(j.Processes))
	for i, p := range j.Processes {
		rows[i] = processRow(p, now)
	}
	if j.Error != "" {
		// The job runs an older valid file: say why the new one is not used.
		rows[0].detail = joinDetail(rows[0].detail, "job file not in use: "+j.Error)
	}
	return rows
}

func processRow(p processStatus, now time.Time) row {
	r := row{name: p.Name, state: p.State, pid: "-", uptime: "-", restarts: strconv.Itoa(p.Restarts), exit: "-",
		health: healthCell(p), detail: joinDetail(p.Detail, p.NotifyStatus, p.CheckError)}
	if p.Pid > 0 {
		r.pid = strconv.Itoa(p.Pid)
	}
	if p.State == "RUNNING" && !p.Since.IsZero() {
		r.uptime = humanize(now.Sub(p.Since))
	}
	switch {
	case p.Signal != "":
		r.exit = p.Signal
	case p.ExitCode != nil:
		r.exit = strconv.Itoa(*p.ExitCode)
	}
	return r
}

// humanize prints a duration with its two largest units: 12s, 3m12s,
// 2h5m, 4d3h.
func humanize(d time.Duration) string {
	sec := int64(max(d, 0) / time.Second)
	switch {
	case sec < 60:
		return fmt.Sprintf("%ds", sec)
	case sec < 3600:
		return fmt.Sprintf("%dm%ds", sec/60, sec%60)
	case sec < 86400:
		return fmt.Sprintf("%dh%dm", sec/3600, sec%3600/60)
	}
	return fmt.Sprintf("%dd%dh", sec/86400, sec%86400/3600)
}
