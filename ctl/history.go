package ctl

import (
	"os"
	"path/filepath"
	"strings"
)

// Where the shell keeps its history, and how much of it.
const (
	historyFile = ".taskmasterctl_history"
	historyMax  = 500
)

// history is the shell's term.History, kept in a file across runs. Losing
// it is no reason to fail a command: every file error is ignored.
type history struct {
	path    string   // "" keeps the history in memory only
	entries []string // oldest first
}

// loadHistory reads the history file in home, if there is one.
func loadHistory(home string) *history {
	h := &history{}
	if home == "" {
		return h
	}
	h.path = filepath.Join(home, historyFile)
	data, err := os.ReadFile(h.path)
	if err != nil {
		return h
	}
	for _, line := range strings.Split(string(data), "\n") {
		if line != "" {
			h.entries = append(h.entries, line)
		}
	}
	h.trim()
	return h
}

// Add records a line typed at the prompt and saves the history. It skips
// blank lines, a repeat of the previous line, and exit or quit, which
// up-arrow Enter in the next session would otherwise replay.
func (h *history) Add(line string) {
	line = strings.TrimSpace(line)
	if line == "" || line == "exit" || line == "quit" || (len(h.entries) > 0 && h.entries[len(h.entries)-1] == line) {
		return
	}
	h.entries = append(h.entries, line)
	h.trim()
	h.save()
}

// Len is the number of lines kept.
func (h *history) Len() int { return len(h.entries) }

// At returns a line: 0 is the most recent.
func (h *history) At(i int) string { return h.entries[len(h.entries)-1-i] }

func (h *history) trim() {
	if n := len(h.entries); n > historyMax {
		h.entries = append([]string(nil), h.entries[n-historyMax:]...)
	}
}

// save writes the whole file after every line, atomically, so that a shell
// that is killed, or two shells at once, never leave half a file. It is
// private (0600): lines may hold a -token.
func (h *history) save() {
	if h.path == "" {
		return
	}
	writeFileAtomic(h.path, []byte(strings.Join(h.entries, "\n")+"\n"), 0o600)
}
