package ctl

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// agentInfo is one agent of the agents reply (docs/fleet.md).
type agentInfo struct {
	ID        string    `json:"id"`
	Address   string    `json:"address"`
	State     string    `json:"state"`
	Since     time.Time `json:"since"`
	Connected time.Time `json:"connected_since"`
	RTTMillis float64   `json:"rtt_ms"`
	Version   string    `json:"version"`
	Reason    string    `json:"reason"`
	Jobs      int       `json:"jobs"`
	Running   int       `json:"running"`
	Unhealthy int       `json:"unhealthy"`
}

// runAgents lists a fleet manager's agents.
func runAgents(s *session, _ []string) int {
	resp, err := s.do(ctlproto.CmdAgents, "", nil, 0)
	if err != nil {
		return s.failed(err)
	}
	if resp.Kind != ctlproto.KindStatus {
		return s.refused("agents", resp)
	}
	if s.opts.json {
		fmt.Fprintf(s.out, "%s\n", resp.Data)
		return ExitOK
	}
	var reply struct {
		Agents []agentInfo `json:"agents"`
	}
	if err := json.Unmarshal(resp.Data, &reply); err != nil {
		fmt.Fprintf(s.errw, "taskmasterctl: agents: bad reply from taskmasterd: %v\n", err)
		return ExitFail
	}
	if len(reply.Agents) == 0 {
		fmt.Fprintln(s.out, "no agents")
		return ExitOK
	}
	writeAgents(s.out, reply.Agents, s.now())
	return ExitOK
}

// writeAgents prints the agents table.
func writeAgents(w io.Writer, agents []agentInfo, now time.Time) {
	rows := [][]string{{"AGENT", "ADDRESS", "STATE", "SINCE", "RTT", "VERSION", "JOBS", "RUNNING", "UNHEALTHY", "DETAIL"}}
	for _, a := range agents {
		rtt := "-"
		if a.RTTMillis > 0 && a.State == "connected" {
			rtt = strconv.FormatFloat(a.RTTMillis, 'f', 1, 64) + "ms"
		}
		rows = append(rows, []string{oneLine(a.ID), oneLine(a.Address), oneLine(a.State), humanize(now.Sub(a.Since)), rtt,
			oneLine(orDash(a.Version)), strconv.Itoa(a.Jobs), strconv.Itoa(a.Running), strconv.Itoa(a.Unhealthy), oneLine(a.Reason)})
	}
	writeColumns(w, rows)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// hasAgents reports whether any job runs on a fleet agent.
func hasAgents(jobs []jobStatus) bool {
	for _, j := range jobs {
		if j.Agent != "" {
			return true
		}
	}
	return false
}

// agentCell is the AGENT cell of a job's rows: "-" for the manager's own.
func agentCell(j jobStatus) string {
	switch {
	case j.Agent == "":
		return "-"
	case j.AgentState != "":
		return j.Agent + " (" + j.AgentState + ")"
	}
	return j.Agent
}
