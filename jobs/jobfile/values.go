package jobfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// errNUL is returned for strings holding a NUL character, which no path,
// argument or environment entry can carry to execve.
var errNUL = errors.New("must not contain a NUL character (\\u0000)")

// asString decodes a JSON string; what says what was expected, for the error.
func asString(raw json.RawMessage, what string) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", fmt.Errorf("expected %s, got %s", what, describe(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("expected %s: %w", what, err)
	}
	if strings.ContainsRune(s, 0) {
		return "", fmt.Errorf("%s %w", quoteShort(s), errNUL)
	}
	return s, nil
}

// asBool decodes a JSON boolean.
func asBool(raw json.RawMessage) (bool, error) {
	switch string(raw) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("expected true or false, got %s", describe(raw))
}

// asInt decodes a JSON number that is a whole number from lo to hi. Like
// JSON Schema's "integer", it accepts 2.0 and 1e3 but not 1.5.
func asInt(raw json.RawMessage, lo, hi int64) (int64, error) {
	bad := fmt.Errorf("expected an integer from %d to %d, got %s", lo, hi, describe(raw))
	if !isNumber(raw) {
		return 0, bad
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(raw), 64)
		if ferr != nil || f != math.Trunc(f) || f < math.MinInt64 || f > math.MaxInt64 {
			return 0, bad
		}
		n = int64(f)
	}
	if n < lo || n > hi {
		return 0, bad
	}
	return n, nil
}

// isNumber reports whether raw is a JSON number (as opposed to a string,
// boolean, null, array or object).
func isNumber(raw json.RawMessage) bool {
	return len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9')
}

// asSeconds decodes a number of seconds from 0 to MaxSeconds; fractions
// are allowed down to the nanosecond.
func asSeconds(raw json.RawMessage) (time.Duration, error) {
	f, err := strconv.ParseFloat(string(raw), 64)
	if !isNumber(raw) || err != nil || f < 0 || f > MaxSeconds {
		return 0, fmt.Errorf("expected a number of seconds from 0 to %d (fractions allowed, like 0.5), got %s",
			MaxSeconds, describe(raw))
	}
	return time.Duration(math.Round(f * float64(time.Second))), nil
}

// asList decodes a JSON array into its elements, as written.
func asList(raw json.RawMessage, what string) ([]json.RawMessage, error) {
	var list []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' {
		return nil, fmt.Errorf("expected %s, got %s", what, describe(raw))
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("expected %s: %w", what, err)
	}
	return list, nil
}

// setNumProcs decodes numprocs and procNr.
func setNumProcs(p *parser, raw json.RawMessage) error {
	n, err := asInt(raw, 1, MaxNumProcs)
	p.spec.NumProcs = int(n)
	return err
}

// setStartRetries decodes startretries and restartTimes.
func setStartRetries(p *parser, raw json.RawMessage) error {
	n, err := asInt(raw, 0, MaxStartRetries)
	p.spec.StartRetries = int(n)
	return err
}

// setStartTime decodes starttime and startTime.
func setStartTime(p *parser, raw json.RawMessage) (err error) {
	p.spec.StartTime, err = asSeconds(raw)
	return err
}

// setStopTime decodes stoptime and stopTime.
func setStopTime(p *parser, raw json.RawMessage) (err error) {
	p.spec.StopTime, err = asSeconds(raw)
	return err
}

// setAutoStart decodes autostart and autoStart.
func setAutoStart(p *parser, raw json.RawMessage) (err error) {
	p.spec.AutoStart, err = asBool(raw)
	return err
}

// setCritical decodes critical.
func setCritical(p *parser, raw json.RawMessage) (err error) {
	p.spec.Critical, err = asBool(raw)
	return err
}

// setSchemaRef accepts "$schema", which only editors read.
func setSchemaRef(_ *parser, raw json.RawMessage) error {
	_, err := asString(raw, `a string (the URL or path of the JSON Schema, for editors)`)
	return err
}

// setAutoRestart decodes autorestart: false, true, "false", "true" or
// "unexpected". The strings are accepted because supervisord users write them.
func setAutoRestart(p *parser, raw json.RawMessage) error {
	switch string(raw) {
	case "false", `"false"`:
		p.spec.AutoRestart = RestartNever
	case "true", `"true"`:
		p.spec.AutoRestart = RestartAlways
	case `"unexpected"`:
		p.spec.AutoRestart = RestartUnexpected
	default:
		return fmt.Errorf(`expected false, true or "unexpected", got %s`, describe(raw))
	}
	return nil
}

// leftoversValues are the values of leftovers, as written.
var leftoversValues = map[string]Leftovers{"stop": LeftoversStop, "keep": LeftoversKeep}

// setLeftovers decodes leftovers: "stop" or "keep". A near miss ("Stop",
// "kep") gets a suggestion.
func setLeftovers(p *parser, raw json.RawMessage) error {
	want := `expected "stop" or "keep"`
	s, err := asString(raw, want)
	if err != nil {
		return err
	}
	if l, ok := leftoversValues[s]; ok {
		p.spec.Leftovers = l
		return nil
	}
	if near := nearest(s, "stop", "keep"); near != "" {
		return fmt.Errorf("%s, got %s (did you mean %q?)", want, describe(raw), near)
	}
	return fmt.Errorf("%s, got %s", want, describe(raw))
}

// setRestart decodes the original Taskmaster's restart: 0, 1 or 2.
func setRestart(p *parser, raw json.RawMessage) error {
	n, err := asInt(raw, 0, 2)
	if err != nil {
		return fmt.Errorf("expected 0 (never), 1 (unexpected) or 2 (always), got %s", describe(raw))
	}
	p.spec.AutoRestart = []AutoRestart{RestartNever, RestartUnexpected, RestartAlways}[n]
	return nil
}

// setExitCodes decodes exitcodes and normalExitCode: one code or a
// non-empty list, kept sorted and without duplicates.
func setExitCodes(p *parser, raw json.RawMessage) error {
	if isNumber(raw) {
		n, err := asInt(raw, 0, 255)
		p.spec.ExitCodes = []int{int(n)}
		return err
	}
	list, err := asList(raw, "an exit code from 0 to 255 or a non-empty list of them")
	if err == nil && len(list) == 0 {
		err = errors.New("expected at least one exit code, got an empty list")
	}
	if err != nil {
		return err
	}
	codes := make([]int, 0, len(list))
	for i, el := range list {
		n, err := asInt(el, 0, 255)
		if err != nil {
			return fmt.Errorf("element %d: %w", i+1, err)
		}
		codes = append(codes, int(n))
	}
	slices.Sort(codes)
	p.spec.ExitCodes = slices.Compact(codes)
	return nil
}

// nearest returns the word of words closest to s, comparing without case,
// or "" when none is close enough to be a likely typo: the "did you mean"
// of values, as suggest is that of keys.
func nearest(s string, words ...string) string {
	best, bestDist := "", -1
	low := strings.ToLower(s)
	for _, w := range words {
		d := editDistance(low, strings.ToLower(w))
		if d <= tolerance(w) && (bestDist < 0 || d < bestDist) {
			best, bestDist = w, d
		}
	}
	return best
}
