package jobfile

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Why each character a shell treats specially is refused outside quotes.
// taskmaster runs cmd without a shell, so these characters would silently
// mean something else than the user expects: refusing them is kinder than
// passing them on as plain text.
const (
	whyOperator = "pipes, redirections, command lists and subshells need a shell"
	whyExpand   = "variable and command substitution need a shell"
	whyGlob     = "file name patterns are expanded by a shell"
	whyComment  = "comments need a shell"
	whyTilde    = "~ is expanded to a home directory by a shell"
)

// splitWords splits a command line into words the way a POSIX shell does,
// but performs no expansion of any kind: whitespace separates words, single
// quotes keep everything literally, double quotes keep everything but
// \" \\ \$ \` and backslash-newline, and a backslash outside quotes keeps
// the next character. Characters that would make a shell do more than split
// (| & ; < > ( ) $ ` * ? [, and # or ~ at the start of a word) are errors
// unless quoted or escaped: the user must quote them or run ["sh", "-c", ...].
func splitWords(s string) ([]string, error) {
	w := &wordSplitter{s: s}
	for w.i = 0; w.i < len(s); w.i++ {
		if err := w.step(); err != nil {
			return nil, err
		}
	}
	w.endWord()
	return w.words, nil
}

// wordSplitter is the state of splitWords.
type wordSplitter struct {
	s      string
	i      int // byte index of the character being read
	words  []string
	cur    strings.Builder
	inWord bool // cur holds a word, possibly empty ("" is a word)
	quoted bool // some of cur came from quotes or escapes
}

// step reads the character at w.i (and more when it opens a quote).
func (w *wordSplitter) step() error {
	c := w.s[w.i]
	switch {
	case c == ' ' || c == '\t' || c == '\n':
		w.endWord()
	case c == '\\':
		return w.escape()
	case c == '\'':
		return w.singleQuoted()
	case c == '"':
		return w.doubleQuoted()
	case strings.IndexByte("|&;<>()", c) >= 0:
		return w.refuse(whyOperator)
	case c == '$' || c == '`':
		return w.refuse(whyExpand)
	case strings.IndexByte("*?[", c) >= 0:
		return w.refuse(whyGlob)
	case c == '#' && !w.inWord:
		return w.refuse(whyComment)
	case c == '~' && !w.inWord:
		return w.refuse(whyTilde)
	case c == '=' && len(w.words) == 0 && !w.quoted && isEnvName(w.cur.String()):
		return fmt.Errorf("%q at the start of cmd would set an environment variable in a shell, but cmd is not run by a shell; use the env key",
			w.cur.String()+"=")
	default:
		w.cur.WriteByte(c)
		w.inWord = true
	}
	return nil
}

// endWord closes the current word, if any.
func (w *wordSplitter) endWord() {
	if w.inWord {
		w.words = append(w.words, w.cur.String())
	}
	w.cur.Reset()
	w.inWord, w.quoted = false, false
}

// escape handles a backslash outside quotes.
func (w *wordSplitter) escape() error {
	if w.i+1 == len(w.s) {
		return fmt.Errorf("the backslash at character %d escapes nothing (it ends the command)", w.char())
	}
	w.i++
	if w.s[w.i] == '\n' { // a line continuation vanishes
		return nil
	}
	w.cur.WriteByte(w.s[w.i])
	w.inWord, w.quoted = true, true
	return nil
}

// singleQuoted copies everything up to the closing single quote.
func (w *wordSplitter) singleQuoted() error {
	end := strings.IndexByte(w.s[w.i+1:], '\'')
	if end < 0 {
		return fmt.Errorf("unterminated single quote (the ' at character %d is never closed)", w.char())
	}
	w.cur.WriteString(w.s[w.i+1 : w.i+1+end])
	w.i += end + 1
	w.inWord, w.quoted = true, true
	return nil
}

// doubleQuoted copies everything up to the closing double quote, handling
// the backslash escapes a shell knows there.
func (w *wordSplitter) doubleQuoted() error {
	open := w.char()
	w.inWord, w.quoted = true, true
	for w.i++; w.i < len(w.s); w.i++ {
		switch c := w.s[w.i]; {
		case c == '"':
			return nil
		case c == '$' || c == '`':
			return fmt.Errorf(`%q at character %d inside double quotes: %s; write \%c for a literal %c, or use ["sh", "-c", "..."]`,
				c, w.char(), whyExpand, c, c)
		case c == '\\' && w.i+1 < len(w.s) && strings.IndexByte("\"\\$`\n", w.s[w.i+1]) >= 0:
			w.i++
			if w.s[w.i] != '\n' {
				w.cur.WriteByte(w.s[w.i])
			}
		default:
			w.cur.WriteByte(c)
		}
	}
	return fmt.Errorf(`unterminated double quote (the " at character %d is never closed)`, open)
}

// refuse reports an unquoted character that only a shell would understand.
func (w *wordSplitter) refuse(why string) error {
	return fmt.Errorf(`unquoted %q at character %d: cmd is not run by a shell, and %s; quote or escape it to pass it as is, or use ["sh", "-c", "..."]`,
		w.s[w.i], w.char(), why)
}

// char returns the 1-based character (not byte) position of w.i.
func (w *wordSplitter) char() int {
	return utf8.RuneCountInString(w.s[:w.i]) + 1
}

// isEnvName reports whether s is a shell variable name.
func isEnvName(s string) bool {
	for i, c := range s {
		letter := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}
