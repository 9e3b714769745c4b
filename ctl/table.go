package ctl

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one line of the status table, before alignment.
type row struct {
	name, state, pid, uptime, restarts, exit, detail string
}

// writeTable prints jobs as the status table: one row per process, or one
// row for a job without processes (an INVALID job), aligned with tabwriter.
func writeTable(w io.Writer, jobs []jobStatus, now time.Time, color bool) {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	writeRow(tw, row{"NAME", "STATE", "PID", "UPTIME", "RESTARTS", "EXIT", "DETAIL"}, color, colorHeader)
	for _, j := range jobs {
		for _, r := range jobRows(j, now) {
			writeRow(tw, r, color, stateColor(r))
		}
	}
	tw.Flush()
	// tabwriter pads the cell before an empty DETAIL too: drop the blanks.
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line != "" {
			io.WriteString(w, strings.TrimRight(line, " \n")+"\n")
		}
	}
}

// writeRow writes one row, the STATE cell painted when color is on.
func writeRow(tw io.Writer, r row, color bool, c sgr) {
	state := oneLine(r.state)
	if color {
		state = paint(c, state)
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(r.name), state, oneLine(r.pid),
		oneLine(r.uptime), oneLine(r.restarts), oneLine(r.exit), oneLine(r.detail))
}

// cellBreaks would end a row or a cell early: a job file error often spans
// lines.
var cellBreaks = strings.NewReplacer("\r\n", "; ", "\n", "; ", "\r", " ", "\t", " ")

func oneLine(s string) string { return cellBreaks.Replace(strings.TrimSpace(s)) }

func jobRows(j jobStatus, now time.Time) []row {
	if len(j.Processes) == 0 {
		return []row{{name: j.Name, state: j.State, pid: "-", uptime: "-", restarts: "-", exit: "-", detail: j.Error}}
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
	r := row{name: p.Name, state: p.State, pid: "-", uptime: "-", restarts: strconv.Itoa(p.Restarts), exit: "-", detail: p.Detail}
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
