package jobfile

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// depKey is the key CheckSet's errors are about.
const depKey = "depends_on"

// CheckSet checks what only a whole set of jobs can tell: every name in a
// job's depends_on must be a job of the set, the dependencies must not form
// a cycle, and a job that depends on a job with such an error has an error
// too, since it could never start. specs maps job names to their specs (the
// map key is the name that counts). The result maps each job with problems
// to an error: *Error values (Key "depends_on", no file or position) joined
// with errors.Join. It is empty when the set is sound, and the same for the
// same input.
func CheckSet(specs map[string]*Spec) map[string]error {
	bad := map[string][]error{}
	names := sortedNames(specs)
	for _, name := range names {
		for _, dep := range specs[name].DependsOn {
			if _, ok := specs[dep]; !ok {
				bad[name] = append(bad[name], depError(
					"unknown job %q (no %s%s was found)", dep, dep, Suffix))
			}
		}
	}
	for _, name := range names {
		if cycle := shortestCycle(specs, name); cycle != nil {
			bad[name] = append(bad[name], depError("cycle %s", strings.Join(cycle, " -> ")))
		}
	}
	propagate(specs, names, func(name string) bool { return bad[name] != nil },
		func(name, dep string) {
			bad[name] = append(bad[name], depError("job %q has errors, so this job could never start", dep))
		})
	out := make(map[string]error, len(bad))
	for name, errs := range bad {
		out[name] = errors.Join(errs...)
	}
	return out
}

// depError makes a depends_on error.
func depError(format string, args ...any) error {
	return &Error{Key: depKey, Msg: fmt.Sprintf(format, args...)}
}

// propagate calls mark(name, dep) for every job that is not bad but
// depends on a job that is, directly or not, until no more jobs are marked.
// Marking must make isBad true for the marked job.
func propagate(specs map[string]*Spec, names []string, isBad func(string) bool, mark func(name, dep string)) {
	for changed := true; changed; {
		changed = false
		for _, name := range names {
			if isBad(name) {
				continue
			}
			for _, dep := range specs[name].DependsOn {
				if isBad(dep) {
					mark(name, dep)
					changed = true
					break
				}
			}
		}
	}
}

// shortestCycle returns the shortest cycle of dependencies from name back
// to itself, as a list of names starting and ending with name, or nil.
// Breadth-first search over sorted edges keeps the answer deterministic.
func shortestCycle(specs map[string]*Spec, name string) []string {
	parent := map[string]string{}
	queue := []string{name}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, dep := range specs[cur].DependsOn {
			if dep == name {
				return cyclePath(parent, name, cur)
			}
			if _, seen := parent[dep]; seen || specs[dep] == nil {
				continue
			}
			parent[dep] = cur
			queue = append(queue, dep)
		}
	}
	return nil
}

// cyclePath rebuilds the cycle found by shortestCycle, whose last edge
// goes from last back to name.
func cyclePath(parent map[string]string, name, last string) []string {
	path := []string{name}
	for cur := last; cur != name; cur = parent[cur] {
		path = append(path, cur)
	}
	slices.Reverse(path[1:])
	return append(path, name)
}

// sortedNames returns the names of specs in order.
func sortedNames(specs map[string]*Spec) []string {
	names := make([]string, 0, len(specs))
	for name := range specs {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
