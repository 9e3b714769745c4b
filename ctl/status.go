package ctl

import (
	"fmt"
	"strings"
	"time"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/internal/health"
	"github.com/taskmaster/taskmaster/internal/jsonx"
)

// jobStatus is one job of the status JSON (docs/protocol.md). The client
// keeps its own copy of the shape so as not to link the supervisor.
type jobStatus struct {
	Agent      string          `json:"agent,omitempty"`       // on a fleet manager, the agent the job runs on
	AgentState string          `json:"agent_state,omitempty"` // set when that agent is not connected
	Name       string          `json:"name"`
	State      string          `json:"state"`
	AutoStart  bool            `json:"autostart"`
	Critical   bool            `json:"critical"`
	Healthy    bool            `json:"healthy"`
	Error      string          `json:"error,omitempty"` // why the job file on disk is not in use
	Processes  []processStatus `json:"processes"`
}

// processStatus is one instance (NAME:N) of the status JSON.
type processStatus struct {
	Name     string    `json:"name"`
	Pid      int       `json:"pid"`
	State    string    `json:"state"`
	Since    time.Time `json:"since"`
	Restarts int       `json:"restarts"`
	ExitCode *int      `json:"exit_code"`
	Signal   string    `json:"signal,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	// Readiness and health (docs/protocol.md):
	Ready          string `json:"ready,omitempty"`
	Health         string `json:"health,omitempty"`
	HealthFailures int    `json:"health_failures,omitempty"`
	CheckError     string `json:"check_error,omitempty"`
	NotifyStatus   string `json:"notify_status,omitempty"`
}

// statusData asks for the status of target ("" for every job) and returns
// the reply's JSON; on failure it has reported why.
func (s *session) statusData(target string) ([]byte, int) {
	resp, err := s.do(ctlproto.CmdStatus, target, nil, 0)
	if err != nil {
		return nil, s.failed(err)
	}
	if resp.Kind != ctlproto.KindStatus {
		return nil, s.refused(labelOr(target, "status"), resp)
	}
	return resp.Data, ExitOK
}

// decodeStatus reads either shape of the status JSON: {"jobs":[...]} for
// every job, or one job for a target.
func (s *session) decodeStatus(data []byte) ([]jobStatus, int) {
	var all struct {
		Jobs *[]jobStatus `json:"jobs"`
	}
	err := jsonx.Unmarshal(data, &all)
	if err == nil && all.Jobs != nil {
		return *all.Jobs, ExitOK
	}
	var one jobStatus
	if err == nil {
		err = jsonx.Unmarshal(data, &one)
	}
	if err != nil {
		fmt.Fprintf(s.errw, "taskmasterctl: status: bad reply from taskmasterd: %v\n", err)
		return nil, ExitFail
	}
	return []jobStatus{one}, ExitOK
}

func runStatus(s *session, args []string) int {
	target := ""
	if len(args) > 0 {
		target = args[0]
	}
	data, code := s.statusData(target)
	if code != ExitOK {
		return code
	}
	if s.opts.json {
		// The daemon's own JSON, untouched: scripts get every field.
		fmt.Fprintf(s.out, "%s\n", data)
		return ExitOK
	}
	jobs, code := s.decodeStatus(data)
	if code != ExitOK {
		return code
	}
	if len(jobs) == 0 {
		fmt.Fprintln(s.out, "no jobs")
		return ExitOK
	}
	writeTable(s.out, jobs, s.now(), s.color)
	return ExitOK
}

// runHealth is meant for a container's HEALTHCHECK: healthy when every job
// that should run on its own (autostart) is where its settings want it, and
// every job file is in use. A file taskmasterd cannot use (an INVALID job,
// or an invalid edit while the last good version runs on) is unhealthy
// whatever its job's autostart: a typo must not pass for a healthy
// container.
func runHealth(s *session, _ []string) int {
	data, code := s.statusData("")
	if code != ExitOK {
		return code
	}
	jobs, code := s.decodeStatus(data)
	if code != ExitOK {
		return code
	}
	var sick []string
	checked := 0
	for _, j := range jobs {
		if j.Agent != "" {
			continue // a fleet manager's health is its own jobs': agents have theirs
		}
		if j.AutoStart {
			checked++
		}
		if !healthy(j) {
			sick = append(sick, j.Name)
			fmt.Fprintf(s.errw, "taskmasterctl: %s: unhealthy%s\n", visible(j.Name), visible(whyUnhealthy(j)))
		}
	}
	if s.opts.json {
		s.printJSON(struct {
			Healthy   bool     `json:"healthy"`
			Unhealthy []string `json:"unhealthy"`
		}{len(sick) == 0, append([]string{}, sick...)})
	} else if len(sick) == 0 {
		fmt.Fprintf(s.out, "healthy: %d autostart %s\n", checked, plural(checked, "job", "jobs"))
	}
	if len(sick) > 0 {
		return ExitFail
	}
	return ExitOK
}

// healthy is the health command's verdict on one job (the rule /healthz
// applies too).
func healthy(j jobStatus) bool {
	return health.JobOK(health.Job{FileError: j.Error, Healthy: j.Healthy, AutoStart: j.AutoStart,
		Critical: j.Critical, Unhealthy: j.unhealthy() != nil})
}

// unhealthy returns the first instance its health check found unhealthy,
// or nil.
func (j jobStatus) unhealthy() *processStatus {
	for i, p := range j.Processes {
		if p.Health == health.Unhealthy {
			return &j.Processes[i]
		}
	}
	return nil
}

// whyUnhealthy is " (STATE): first reason found", on one line, for the
// health report.
func whyUnhealthy(j jobStatus) string {
	why := " (" + j.State + ")"
	switch {
	case j.Error != "" && len(j.Processes) == 0:
		return why + ": " + oneLine(j.Error)
	case j.Error != "":
		// An older valid file runs: say why the new one is not used.
		return why + ": job file not in use: " + oneLine(j.Error)
	}
	if p := j.unhealthy(); p != nil {
		return why + ": " + p.Name + ": unhealthy: " + oneLine(p.CheckError)
	}
	for _, p := range j.Processes {
		switch {
		case p.Ready == "waiting":
			return why + ": " + p.Name + ": not ready" + oneLine(prefixed(": ", p.CheckError))
		case p.State != "RUNNING" && p.Detail != "":
			return why + ": " + p.Name + ": " + oneLine(p.Detail)
		}
	}
	return why
}

// prefixed is prefix+s, or "" when s is.
func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

func labelOr(label, fallback string) string {
	if label == "" {
		return fallback
	}
	return label
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// joinDetail joins the non-empty parts of a detail cell.
func joinDetail(parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "; ")
}
