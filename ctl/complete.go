package ctl

import (
	"context"
	"flag"
	"io"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"
)

// Completion asks the daemon for job names at most this often, and gives
// up on it after completionTimeout: a Tab must never hang the prompt.
const (
	completionTTL     = 3 * time.Second
	completionTimeout = 2 * time.Second
)

// completer completes command names, then job names (all, NAME, NAME:N)
// after a command whose argument is a job, for term.Terminal.
type completer struct {
	r     *runner
	opts  options
	tm    *term.Terminal // shows the candidates when there are several
	cache map[string]cacheEntry
	menu  *menu // while Tab cycles through candidates
}

// cacheEntry is one fetched list: the job names under "", the instances of
// a job under its name.
type cacheEntry struct {
	at    time.Time
	names []string
}

func newCompleter(r *runner, opts options, tm *term.Terminal) *completer {
	return &completer{r: r, opts: opts, tm: tm, cache: make(map[string]cacheEntry)}
}

// menu is the state of cycling through candidates: the line as the last
// Tab left it, and which candidate it shows.
type menu struct {
	line       string
	pos        int
	head, rest string // the line around the word being completed
	matches    []string
	i          int
}

// complete is term.Terminal's AutoCompleteCallback. On Tab it completes the
// word before the cursor to the only candidate (and a space), or to the
// candidates' common prefix when that is longer than the word; otherwise it
// lists the candidates and puts in the first, and further Tabs cycle
// through them. Candidates come in the command table's order, which puts
// the frequent commands first: "sta" gives status before start.
func (c *completer) complete(line string, pos int, key rune) (string, int, bool) {
	if key != '\t' {
		c.menu = nil
		return "", 0, false
	}
	if m := c.menu; m != nil && m.line == line && m.pos == pos {
		return c.cycle()
	}
	c.menu = nil
	head := line[:pos]
	start := strings.LastIndexAny(head, " \t") + 1
	word := head[start:]
	matches := withPrefix(c.candidates(strings.Fields(head[:start]), word), word)
	switch {
	case len(matches) == 0:
		return line, pos, true
	case len(matches) == 1:
		return replaceWord(line, start, pos, matches[0]+" ")
	}
	if p := commonPrefix(matches); len(p) > len(word) {
		return replaceWord(line, start, pos, p)
	}
	io.WriteString(c.tm, strings.Join(matches, "  ")+"\n")
	c.menu = &menu{head: line[:start], rest: line[pos:], matches: matches, i: -1}
	return c.cycle()
}

// cycle puts the next candidate of the menu in.
func (c *completer) cycle() (string, int, bool) {
	m := c.menu
	m.i = (m.i + 1) % len(m.matches)
	m.line = m.head + m.matches[m.i] + m.rest
	m.pos = len(m.head) + len(m.matches[m.i])
	return m.line, m.pos, true
}

func replaceWord(line string, start, end int, repl string) (string, int, bool) {
	return line[:start] + repl + line[end:], start + len(repl), true
}

// candidates are the completions of word after the words before it.
func (c *completer) candidates(before []string, word string) []string {
	cmd, argIndex := commandAt(before)
	switch {
	case cmd == nil && argIndex < 0:
		return nil // after an unknown command
	case cmd == nil:
		return commandNames(true)
	}
	var names []string
	switch cmd.kindAt(argIndex) {
	case argCommand:
		return commandNames(false)
	case argState:
		return append([]string{"ready"}, processStates...)
	case argTarget:
		names = append([]string{"all"}, c.jobNames()...)
	case argJob:
		return c.jobNames()
	case argInstance:
		names = c.jobNames()
	default:
		return nil
	}
	if job, _, ok := strings.Cut(word, ":"); ok {
		names = append(names, c.instances(job)...)
	}
	return names
}

// commandAt finds the command among the words before the cursor, skipping
// flags and their values, and the index of the argument being typed. It
// returns nil and 0 when the command is still being typed, nil and -1 for
// an unknown command.
func commandAt(words []string) (*command, int) {
	global := newFlagSet("taskmasterctl")
	var o options
	o.register(global)
	for i := 0; i < len(words); i++ {
		if strings.HasPrefix(words[i], "-") {
			i += valueWords(global, words[i])
			continue
		}
		cmd, ok := lookup(words[i])
		if !ok {
			return nil, -1
		}
		return cmd, countArgs(cmd, words[i+1:])
	}
	return nil, 0
}

// countArgs counts the positional arguments among words, skipping the
// command's flags and their values.
func countArgs(cmd *command, words []string) int {
	fs := newFlagSet(cmd.name)
	cmd.setup(fs)
	var o options
	o.register(fs)
	n := 0
	for i := 0; i < len(words); i++ {
		if strings.HasPrefix(words[i], "-") {
			i += valueWords(fs, words[i])
			continue
		}
		n++
	}
	return n
}

// valueWords is 1 when the flag arg takes its value from the next word
// ("--state RUNNING"), 0 otherwise ("-f", "--state=RUNNING").
func valueWords(fs *flag.FlagSet, arg string) int {
	name := strings.TrimLeft(arg, "-")
	if strings.Contains(name, "=") {
		return 0
	}
	f := fs.Lookup(name)
	if f == nil {
		return 0
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return 0
	}
	return 1
}

// jobNames are the job names, from the daemon's list.
func (c *completer) jobNames() []string {
	return c.cached("", func(s *session) []string {
		names, _ := s.list()
		return names
	})
}

// instances are the NAME:N of job, from its status.
func (c *completer) instances(job string) []string {
	return c.cached(job, func(s *session) []string {
		data, code := s.statusData(job)
		if code != ExitOK {
			return nil
		}
		jobs, _ := s.decodeStatus(data)
		var names []string
		for _, j := range jobs {
			for _, p := range j.Processes {
				names = append(names, p.Name)
			}
		}
		return names
	})
}

// cached returns the list under key, fetching it again when it is older
// than completionTTL. A failure is cached too (as nothing), so that Tab
// against a daemon that is down does not wait at every press.
func (c *completer) cached(key string, fetch func(*session) []string) []string {
	now := c.r.env.Now()
	if e, ok := c.cache[key]; ok && now.Sub(e.at) < completionTTL {
		return e.names
	}
	opts := c.opts
	opts.timeout = completionTimeout
	s := &session{ctx: context.Background(), opts: opts, out: io.Discard, errw: io.Discard, now: c.r.env.Now}
	defer s.close()
	names := fetch(s)
	c.cache[key] = cacheEntry{at: now, names: names}
	return names
}

// withPrefix keeps the names that start with prefix, in their order, once
// each.
func withPrefix(names []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func commonPrefix(names []string) string {
	p := names[0]
	for _, n := range names[1:] {
		for !strings.HasPrefix(n, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}
