package main

import (
	"fmt"
	"strings"
)

// target is one of the goals taskmaster must reach and keep (issue 6),
// checked against a number measured in the same run.
type target struct {
	goal     string // what must hold, e.g. "spawn within 1.5x of the raw loop, N=100"
	measured string // what was measured, e.g. "1.21x (4.1 ms against 3.4 ms)"
	met      bool
}

// check records a target's outcome for the report's summary.
func (b *bench) check(goal string, met bool, format string, args ...any) {
	b.targets = append(b.targets, target{goal: goal, measured: fmt.Sprintf(format, args...), met: met})
}

// ratio is a/b, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// targetTable is the summary of the targets checked, in the order the
// sections checked them.
func (b *bench) targetTable() string {
	if len(b.targets) == 0 {
		return ""
	}
	var sb strings.Builder
	met := 0
	for _, t := range b.targets {
		if t.met {
			met++
		}
	}
	fmt.Fprintf(&sb, "## Targets\n\n%d of %d met in this run. Each is a ratio or a figure measured in this run; the sections below give the details.\n\n", met, len(b.targets))
	sb.WriteString("| target | measured | |\n|---|---|---|\n")
	for _, t := range b.targets {
		verdict := "met"
		if !t.met {
			verdict = "**missed**"
		}
		fmt.Fprintf(&sb, "| %s | %s | %s |\n", t.goal, t.measured, verdict)
	}
	return sb.String()
}
