package jobfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ProbeKind is how a ready or health check tests an instance.
type ProbeKind int

// The kinds of checks. Notify and NotifyFD are the process telling
// taskmasterd itself; they are ready checks only.
const (
	ProbeTCP      ProbeKind = iota + 1 // a TCP connection to Addr succeeds
	ProbeHTTP                          // a GET of URL answers a status from StatusMin to StatusMax
	ProbeExec                          // Cmd, run like the job's processes, exits 0
	ProbeNotify                        // the process sends READY=1 to $NOTIFY_SOCKET (sd_notify)
	ProbeNotifyFD                      // the process writes a line to its file descriptor FD (s6)
)

// checkKindNames are the keys that choose a kind, by kind.
var checkKindNames = map[ProbeKind]string{
	ProbeTCP: "tcp", ProbeHTTP: "http", ProbeExec: "exec", ProbeNotify: "notify", ProbeNotifyFD: "notify_fd",
}

// String returns the key that chooses the kind, as written in a job file.
func (k ProbeKind) String() string {
	if n, ok := checkKindNames[k]; ok {
		return n
	}
	return "ProbeKind(" + strconv.Itoa(int(k)) + ")"
}

// OnUnhealthy says what happens to an instance whose health check failed
// Retries times in a row.
type OnUnhealthy int

// The on_unhealthy policies.
const (
	UnhealthyRestart OnUnhealthy = iota // stop the process and start it again (default)
	UnhealthyIgnore                     // only report it
)

// String returns the policy as it is written in a job file.
func (o OnUnhealthy) String() string {
	if o == UnhealthyIgnore {
		return "ignore"
	}
	return "restart"
}

// Probe is the ready or health check of a job.
type Probe struct {
	Kind      ProbeKind
	Addr      string        // tcp: host:port
	URL       string        // http: an http:// or https:// URL
	StatusMin int           // http: the lowest status that passes
	StatusMax int           // http: the highest status that passes
	Cmd       []string      // exec: program and arguments; Cmd[0] may be a bare name looked up in the job's PATH
	FD        int           // notify_fd: the descriptor the process writes its line to
	Watchdog  time.Duration // notify: the process sends WATCHDOG=1 at least this often once ready; 0: no watchdog
	Interval  time.Duration // tcp, http, exec: time between the starts of two checks
	Timeout   time.Duration // tcp, http, exec: how long one check may take
	Deadline  time.Duration // ready: how long an instance may take to be ready; 0: for ever
	Retries   int           // health: failures in a row that make an instance unhealthy
	Unhealthy OnUnhealthy   // health: what happens then
}

// Polled reports whether the check is one taskmasterd runs (tcp, http,
// exec), rather than one the process answers by itself.
func (c *Probe) Polled() bool {
	return c != nil && (c.Kind == ProbeTCP || c.Kind == ProbeHTTP || c.Kind == ProbeExec)
}

// Target describes what the check tests, for messages: "tcp 127.0.0.1:5432",
// "http http://127.0.0.1:8080/healthz", "exec pg_isready -q", "notify".
func (c *Probe) Target() string {
	switch c.Kind {
	case ProbeTCP:
		return "tcp " + c.Addr
	case ProbeHTTP:
		return "http " + c.URL
	case ProbeExec:
		return "exec " + strings.Join(c.Cmd, " ")
	case ProbeNotifyFD:
		return "notify_fd " + strconv.Itoa(c.FD)
	}
	return c.Kind.String()
}

// Equal reports whether c and o are the same check. Two nil checks are
// equal.
func (c *Probe) Equal(o *Probe) bool {
	if c == nil || o == nil {
		return c == o
	}
	return c.Kind == o.Kind && c.Addr == o.Addr && c.URL == o.URL &&
		c.StatusMin == o.StatusMin && c.StatusMax == o.StatusMax &&
		slices.Equal(c.Cmd, o.Cmd) && c.FD == o.FD && c.Watchdog == o.Watchdog &&
		c.Interval == o.Interval && c.Timeout == o.Timeout && c.Deadline == o.Deadline &&
		c.Retries == o.Retries && c.Unhealthy == o.Unhealthy
}

// Check defaults and limits, in seconds where they are durations.
const (
	DefaultReadyInterval  = 1
	DefaultHealthInterval = 10
	DefaultCheckTimeout   = 5
	DefaultReadyDeadline  = 60
	DefaultHealthRetries  = 3
	MinCheckInterval      = 0.01 // a check every 10 ms at most: no busy loop by mistake
	MaxCheckRetries       = 1000
	MaxNotifyFD           = 255
)

// checkFor says which of ready and health is being decoded.
type checkFor int

const (
	forReady checkFor = iota
	forHealth
)

func (f checkFor) String() string {
	if f == forHealth {
		return "health"
	}
	return "ready"
}

// checkOption is a key of a check besides its kind.
type checkOption struct {
	name   string
	health bool // applies to health
	ready  bool // applies to ready
	kinds  []ProbeKind
}

// checkOptions are the keys of a check besides its kind, and the checks
// (ready, health) and kinds they apply to.
var checkOptions = []checkOption{
	{"status", true, true, []ProbeKind{ProbeHTTP}},
	{"interval", true, true, []ProbeKind{ProbeTCP, ProbeHTTP, ProbeExec}},
	{"timeout", true, true, []ProbeKind{ProbeTCP, ProbeHTTP, ProbeExec}},
	{"deadline", false, true, []ProbeKind{ProbeTCP, ProbeHTTP, ProbeExec, ProbeNotify, ProbeNotifyFD}},
	{"watchdog_sec", false, true, []ProbeKind{ProbeNotify}},
	{"retries", true, false, []ProbeKind{ProbeTCP, ProbeHTTP, ProbeExec}},
	{"on_unhealthy", true, false, []ProbeKind{ProbeTCP, ProbeHTTP, ProbeExec}},
}

// atError is an error at an offset inside the value being decoded, so that
// the message points at the nested key, not at the start of the value.
type atError struct {
	off int // from the first byte of the value
	err error
}

func (e *atError) Error() string { return e.err.Error() }
func (e *atError) Unwrap() error { return e.err }

// at wraps err, if any, with the offset of a nested member.
func at(off int, key string, err error) error {
	if err == nil {
		return nil
	}
	return &atError{off: off, err: fmt.Errorf("%s: %w", key, err)}
}

// setReady decodes ready.
func setReady(p *parser, raw json.RawMessage) (err error) {
	p.spec.Ready, err = parseCheck(p, raw, forReady)
	return err
}

// setHealth decodes health.
func setHealth(p *parser, raw json.RawMessage) (err error) {
	p.spec.Health, err = parseCheck(p, raw, forHealth)
	return err
}

// parseCheck decodes a check object: one kind key, then its options.
func parseCheck(p *parser, raw json.RawMessage, what checkFor) (*Probe, error) {
	example := `an object like {"tcp": "127.0.0.1:5432"}`
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("expected %s, got %s", example, describe(raw))
	}
	ms := members(raw)
	c := &Probe{Interval: DefaultReadyInterval * time.Second, Timeout: DefaultCheckTimeout * time.Second}
	if what == forReady {
		c.Deadline = DefaultReadyDeadline * time.Second
	} else {
		c.Interval, c.Retries = DefaultHealthInterval*time.Second, DefaultHealthRetries
	}
	kind, err := checkKind(ms, what)
	if err != nil {
		return nil, err
	}
	c.Kind = kind.kind
	if err := at(kind.m.valOff, kind.m.key, setCheckTarget(c, kind.m.raw)); err != nil {
		return nil, err
	}
	if c.Kind == ProbeHTTP {
		c.StatusMin, c.StatusMax = 200, 299
	}
	seen := map[string]bool{kind.m.key: true}
	for _, m := range ms {
		if m.key == kind.m.key {
			continue
		}
		if seen[m.key] {
			return nil, at(m.keyOff, m.key, errors.New("duplicate key"))
		}
		seen[m.key] = true
		if err := setOption(c, m, what); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// kindMember is the member of a check object that chooses its kind.
type kindMember struct {
	kind ProbeKind
	m    member
}

// checkKind finds the one member of a check that says its kind.
func checkKind(ms []member, what checkFor) (kindMember, error) {
	kinds := []ProbeKind{ProbeTCP, ProbeHTTP, ProbeExec}
	if what == forReady {
		kinds = append(kinds, ProbeNotify, ProbeNotifyFD)
	}
	var found []kindMember
	for _, m := range ms {
		for k, name := range checkKindNames {
			if m.key == name {
				found = append(found, kindMember{k, m})
			}
		}
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.String()
	}
	switch {
	case len(found) == 0:
		return kindMember{}, fmt.Errorf("expected one of %s to say what to check", strings.Join(names, ", "))
	case len(found) > 1:
		return kindMember{}, at(found[1].m.keyOff, found[1].m.key,
			fmt.Errorf("%q is set too: a check has one kind", found[0].m.key))
	case !slices.Contains(kinds, found[0].kind):
		return kindMember{}, at(found[0].m.keyOff, found[0].m.key,
			errors.New("the process tells its readiness itself, so this is a ready check, not a health check"))
	}
	return found[0], nil
}

// setCheckTarget decodes the value of the kind key.
func setCheckTarget(c *Probe, raw json.RawMessage) (err error) {
	switch c.Kind {
	case ProbeTCP:
		c.Addr, err = checkAddr(raw)
	case ProbeHTTP:
		c.URL, err = checkURL(raw)
	case ProbeExec:
		c.Cmd, err = parseCommand(raw)
	case ProbeNotify:
		var on bool
		if on, err = asBool(raw); err == nil && !on {
			err = errors.New("expected true (leave ready out for no ready check)")
		}
	case ProbeNotifyFD:
		var fd int64
		fd, err = asInt(raw, 3, MaxNotifyFD)
		c.FD = int(fd)
		if err != nil {
			err = fmt.Errorf("%w (0, 1 and 2 are the process's stdin, stdout and stderr)", err)
		}
	}
	return err
}

// checkAddr decodes the host:port of a tcp check.
func checkAddr(raw json.RawMessage) (string, error) {
	want := `a "host:port" address, like "127.0.0.1:5432" or "[::1]:80"`
	s, err := asString(raw, want)
	if err != nil {
		return "", err
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return "", fmt.Errorf("expected %s, got %s", want, describe(raw))
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("the port of %s must be a number from 1 to 65535", quoteShort(s))
	}
	return s, nil
}

// checkURL decodes the URL of an http check.
func checkURL(raw json.RawMessage) (string, error) {
	want := `an http:// or https:// URL, like "http://127.0.0.1:8080/healthz"`
	s, err := asString(raw, want)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("expected %s, got %s", want, describe(raw))
	}
	return s, nil
}

// setOption decodes one option of a check.
func setOption(c *Probe, m member, what checkFor) error {
	i := slices.IndexFunc(checkOptions, func(o checkOption) bool { return o.name == m.key })
	if i < 0 {
		return at(m.keyOff, m.key, unknownCheckKey(m.key, c.Kind, what))
	}
	o := checkOptions[i]
	switch {
	case what == forHealth && !o.health, what == forReady && !o.ready:
		return at(m.keyOff, m.key, fmt.Errorf("applies to %s checks only", map[bool]string{true: "health", false: "ready"}[o.health]))
	case !slices.Contains(o.kinds, c.Kind):
		return at(m.keyOff, m.key, fmt.Errorf("does not apply to a %s check", c.Kind))
	}
	return at(m.valOff, m.key, setCheckOption(c, m.key, m.raw))
}

// setCheckOption decodes the value of an option that applies.
func setCheckOption(c *Probe, key string, raw json.RawMessage) (err error) {
	switch key {
	case "status":
		c.StatusMin, c.StatusMax, err = checkStatus(raw)
	case "interval":
		c.Interval, err = positiveSeconds(raw, MinCheckInterval)
	case "timeout":
		c.Timeout, err = positiveSeconds(raw, 0)
	case "deadline":
		c.Deadline, err = asSeconds(raw)
	case "watchdog_sec":
		c.Watchdog, err = positiveSeconds(raw, MinCheckInterval)
	case "retries":
		var n int64
		n, err = asInt(raw, 1, MaxCheckRetries)
		c.Retries = int(n)
	case "on_unhealthy":
		c.Unhealthy, err = onUnhealthy(raw)
	}
	return err
}

// positiveSeconds decodes a number of seconds above 0, and at least least
// when that is more, up to MaxSeconds.
func positiveSeconds(raw json.RawMessage, least float64) (time.Duration, error) {
	d, err := asSeconds(raw)
	if err == nil && (d <= 0 || d.Seconds() < least) {
		if least > 0 {
			return 0, fmt.Errorf("expected at least %g seconds, got %s", least, describe(raw))
		}
		return 0, fmt.Errorf("expected more than 0 seconds, got %s", describe(raw))
	}
	return d, err
}

// checkStatus decodes status: one HTTP status, or [lowest, highest].
func checkStatus(raw json.RawMessage) (lo, hi int, err error) {
	want := "an HTTP status from 100 to 599, or a range [lowest, highest] like [200, 399]"
	if isNumber(raw) {
		n, err := asInt(raw, 100, 599)
		if err != nil {
			return 0, 0, fmt.Errorf("expected %s, got %s", want, describe(raw))
		}
		return int(n), int(n), nil
	}
	list, err := asList(raw, want)
	if err != nil {
		return 0, 0, err
	}
	if len(list) != 2 {
		return 0, 0, fmt.Errorf("expected %s, got %d elements", want, len(list))
	}
	var r [2]int64
	for i, el := range list {
		if r[i], err = asInt(el, 100, 599); err != nil {
			return 0, 0, fmt.Errorf("element %d: %w", i+1, err)
		}
	}
	if r[0] > r[1] {
		return 0, 0, fmt.Errorf("the range [%d, %d] is empty: write the lowest status first", r[0], r[1])
	}
	return int(r[0]), int(r[1]), nil
}

// onUnhealthy decodes on_unhealthy: "restart" or "ignore".
func onUnhealthy(raw json.RawMessage) (OnUnhealthy, error) {
	want := `expected "restart" or "ignore"`
	s, err := asString(raw, want)
	switch {
	case err != nil:
		return 0, err
	case s == "restart":
		return UnhealthyRestart, nil
	case s == "ignore":
		return UnhealthyIgnore, nil
	}
	if near := nearest(s, "restart", "ignore"); near != "" {
		return 0, fmt.Errorf("%s, got %s (did you mean %q?)", want, describe(raw), near)
	}
	return 0, fmt.Errorf("%s, got %s", want, describe(raw))
}

// unknownCheckKey is the message for a key a check does not have.
func unknownCheckKey(key string, kind ProbeKind, what checkFor) error {
	var known []string
	for _, o := range checkOptions {
		applies := (what == forHealth && o.health) || (what == forReady && o.ready)
		if applies && slices.Contains(o.kinds, kind) {
			known = append(known, o.name)
		}
	}
	if near := nearest(key, known...); near != "" {
		return fmt.Errorf("unknown key (did you mean %q?)", near)
	}
	return fmt.Errorf("unknown key (a %s %s check has %s)", kind, what, strings.Join(known, ", "))
}
