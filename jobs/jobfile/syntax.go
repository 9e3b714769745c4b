package jobfile

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// A JSON syntax error, described for people. encoding/json says where a
// file stops being JSON but in its own terms ("invalid character '"' after
// object key:value pair"); the scanner below walks the same grammar
// (RFC 8259, as encoding/json accepts it) to say what is wrong in the
// user's: a missing comma, a comment, single quotes, True for true.

// syntaxFault is the first syntax error of a file: the byte offset it points
// at and the message.
type syntaxFault struct {
	off int
	msg string
}

// maxSyntaxDepth bounds the nesting of objects and arrays, as encoding/json
// bounds it.
const maxSyntaxDepth = 10000

// findSyntaxError returns the first JSON syntax error of data, which must
// not be empty (only whitespace), or nil when it finds none.
func findSyntaxError(data []byte) *syntaxFault {
	s := &scanner{data: data}
	f := s.value("", opened{})
	if f == nil {
		f = s.end()
	}
	return f
}

// scanner walks data; pos is the next byte to read.
type scanner struct {
	data  []byte
	pos   int
	depth int
}

// opened is an object, an array or a string that has started and not ended,
// for the end-of-file message.
type opened struct {
	kind string // "object", "array", "string"
	off  int    // where it starts
}

// closer is what ends each kind of opened value.
var closer = map[string]string{"object": "'}'", "array": "']'", "string": `'"'`}

// eof is the fault at the end of the file inside o.
func (s *scanner) eof(o opened) *syntaxFault {
	return &syntaxFault{len(s.data), fmt.Sprintf(
		"unexpected end of file: the %s that starts at %s is not closed (%s is missing)", o.kind, s.at(o.off), closer[o.kind])}
}

// fault is a syntax error at off, with the usual prefix.
func fault(off int, format string, args ...any) *syntaxFault {
	return &syntaxFault{off, "invalid JSON: " + fmt.Sprintf(format, args...)}
}

// at formats the position of off as LINE:COL.
func (s *scanner) at(off int) string {
	line, col := position(s.data, off)
	return fmt.Sprintf("%d:%d", line, col)
}

// end checks that only whitespace follows the top-level value.
func (s *scanner) end() *syntaxFault {
	if f := s.space(); f != nil {
		return f
	}
	if s.pos < len(s.data) {
		return &syntaxFault{s.pos, "unexpected data after the end of the job object (a job file holds exactly one JSON object)"}
	}
	return nil
}

// space skips JSON whitespace, and stops at a comment: JSON has none.
func (s *scanner) space() *syntaxFault {
	s.pos = skip(s.data, s.pos, 0)
	switch rest := s.data[s.pos:]; {
	case bytes.HasPrefix(rest, []byte("//")):
		return fault(s.pos, "JSON has no comments: remove this // comment")
	case bytes.HasPrefix(rest, []byte("/*")):
		return fault(s.pos, "JSON has no comments: remove this /* */ comment")
	}
	return nil
}

// peek returns the next byte, or 0 at the end of the file.
func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// value reads one value inside in (the zero opened at the top level); key
// names the member it is the value of, for messages ("" at the top level
// and in arrays).
func (s *scanner) value(key string, in opened) *syntaxFault {
	if f := s.space(); f != nil {
		return f
	}
	switch c := s.peek(); {
	case s.pos >= len(s.data) && in.kind != "":
		return s.eof(in)
	case c == '{':
		return s.nested(s.object)
	case c == '[':
		return s.nested(s.array)
	case c == '"':
		_, f := s.str()
		return f
	case c == '-' || c == '+' || c == '.' || isDigit(c):
		return s.number(key)
	case isWordByte(c):
		return s.word()
	}
	return s.notAValue(key)
}

// nested reads an object or an array, one level deeper.
func (s *scanner) nested(read func() *syntaxFault) *syntaxFault {
	if s.depth++; s.depth > maxSyntaxDepth {
		return fault(s.pos, "objects and arrays are nested more than %d levels deep", maxSyntaxDepth)
	}
	f := read()
	s.depth--
	return f
}

// notAValue is the fault where a value should start but does not.
func (s *scanner) notAValue(key string) *syntaxFault {
	off := s.pos
	if q := s.badQuote(); q != nil {
		return q
	}
	what := "a value"
	if key != "" {
		what = fmt.Sprintf("the value of %s", quoteShort(key))
	}
	switch c := s.peek(); c {
	case ',', '}', ']':
		return fault(off, "%s is missing before %q", what, c)
	}
	return fault(off, "expected %s (a string, number, object, array, true, false or null), got %s", what, s.got(off))
}

// badQuote is the fault for a single or typographic quote at pos, if there is one.
func (s *scanner) badQuote() *syntaxFault {
	r, _ := utf8.DecodeRune(s.data[s.pos:])
	switch r {
	case '\'':
		text := s.data[s.pos+1:]
		if end := bytes.IndexAny(text, "'\n"); end >= 0 && text[end] == '\'' {
			inner := string(text[:end])
			return fault(s.pos, "strings are written in double quotes: '%s' should be %s", inner, quoteShort(inner))
		}
		return fault(s.pos, `strings are written in double quotes ("), not single quotes`)
	case '“', '”', '„', '‘', '’', '«', '»':
		return fault(s.pos, `%c is a typographic quote: JSON strings are written in plain double quotes (")`, r)
	}
	return nil
}

// got describes what is at off for a "got ..." message: the end of the
// file, a string, a word or number as written, or one character.
func (s *scanner) got(off int) string {
	if off >= len(s.data) {
		return "the end of the file"
	}
	c := s.data[off]
	switch {
	case c == '"':
		text := s.data[off+1:]
		if end := bytes.IndexAny(text, "\"\n"); end >= 0 && text[end] == '"' {
			return quoteShort(string(text[:end]))
		}
		return "a string"
	case isWordByte(c) || isDigit(c) || c == '-':
		return string(s.token(off))
	}
	r, _ := utf8.DecodeRune(s.data[off:])
	if r < ' ' || r == utf8.RuneError {
		return fmt.Sprintf("the byte 0x%02x", c)
	}
	return fmt.Sprintf("%q", r)
}

// object reads an object; pos is at its '{'.
func (s *scanner) object() *syntaxFault {
	o := opened{"object", s.pos}
	s.pos++
	if f := s.space(); f != nil {
		return f
	}
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		key, f := s.key(o)
		if f != nil {
			return f
		}
		if f := s.colon(o, key); f != nil {
			return f
		}
		if f := s.value(key, o); f != nil {
			return f
		}
		done, f := s.next(o, key)
		if done || f != nil {
			return f
		}
	}
}

// key reads a member's key, which must be a string.
func (s *scanner) key(o opened) (string, *syntaxFault) {
	if f := s.space(); f != nil {
		return "", f
	}
	switch c := s.peek(); {
	case c == '"':
		return s.str()
	case c == 0 && s.pos >= len(s.data):
		return "", s.eof(o)
	case c == '}':
		return "", fault(s.pos, "a comma before '}' (JSON allows no trailing comma)")
	case c == ',':
		return "", fault(s.pos, "a comma where a key should be (one comma goes between two members)")
	case isWordByte(c):
		w := string(s.token(s.pos))
		return "", fault(s.pos, "the key %s must be in double quotes: %s", w, quoteShort(w))
	}
	if q := s.badQuote(); q != nil {
		return "", q
	}
	return "", fault(s.pos, "expected a key in double quotes, got %s", s.got(s.pos))
}

// colon reads the ':' after a key.
func (s *scanner) colon(o opened, key string) *syntaxFault {
	if f := s.space(); f != nil {
		return f
	}
	switch c := s.peek(); {
	case c == ':':
		s.pos++
		return nil
	case s.pos >= len(s.data):
		return s.eof(o)
	case startsValue(c):
		return fault(s.pos, "missing ':' after the key %s", quoteShort(key))
	}
	return fault(s.pos, "expected ':' after the key %s, got %s", quoteShort(key), s.got(s.pos))
}

// next reads what follows a member's value: ',' (more members) or '}'.
func (s *scanner) next(o opened, key string) (done bool, f *syntaxFault) {
	if f := s.space(); f != nil {
		return true, f
	}
	switch c := s.peek(); {
	case c == ',':
		s.pos++
		return false, nil
	case c == '}':
		s.pos++
		return true, nil
	case s.pos >= len(s.data):
		return true, s.eof(o)
	case c == ']':
		return true, fault(s.pos, "']' does not close the object that starts at %s (it ends with '}')", s.at(o.off))
	case startsValue(c):
		return true, fault(s.pos, "missing ',' before %s (after the value of %s)", s.got(s.pos), quoteShort(key))
	}
	return true, fault(s.pos, "expected ',' or '}' after the value of %s, got %s", quoteShort(key), s.got(s.pos))
}

// array reads an array; pos is at its '['.
func (s *scanner) array() *syntaxFault {
	o := opened{"array", s.pos}
	s.pos++
	if f := s.space(); f != nil {
		return f
	}
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for n := 1; ; n++ {
		if f := s.space(); f != nil {
			return f
		}
		switch {
		case s.pos >= len(s.data):
			return s.eof(o)
		case n > 1 && s.peek() == ']':
			return fault(s.pos, "a comma before ']' (JSON allows no trailing comma)")
		}
		if f := s.value("", o); f != nil {
			return f
		}
		if f := s.space(); f != nil {
			return f
		}
		switch c := s.peek(); {
		case c == ',':
			s.pos++
			continue
		case c == ']':
			s.pos++
			return nil
		case s.pos >= len(s.data):
			return s.eof(o)
		case c == '}':
			return fault(s.pos, "'}' does not close the array that starts at %s (it ends with ']')", s.at(o.off))
		case startsValue(c):
			return fault(s.pos, "missing ',' before %s (after element %d of the array)", s.got(s.pos), n)
		}
		return fault(s.pos, "expected ',' or ']' after element %d of the array, got %s", n, s.got(s.pos))
	}
}

// str reads a string and returns its text (escapes left as written, which
// is enough for messages); pos is at its opening quote.
func (s *scanner) str() (string, *syntaxFault) {
	o := opened{"string", s.pos}
	for i := s.pos + 1; i < len(s.data); i++ {
		switch c := s.data[i]; {
		case c == '"':
			text := string(s.data[s.pos+1 : i])
			s.pos = i + 1
			return text, nil
		case c == '\\':
			n, f := s.escape(i)
			if f != nil {
				return "", f
			}
			i += n - 1
		case c == '\n' || c == '\r':
			return "", fault(i, "the string that starts at %s is not closed before the end of the line "+
				`(a string cannot span lines: write a line break as \n)`, s.at(o.off))
		case c == '\t':
			return "", fault(i, `a tab inside a string must be written \t`)
		case c < ' ':
			return "", fault(i, `the control character U+%04X inside a string must be written \u%04x`, c, c)
		}
	}
	return "", s.eof(o)
}

// escape checks the escape sequence at i, a backslash inside a string, and
// returns its length.
func (s *scanner) escape(i int) (int, *syntaxFault) {
	if i+1 >= len(s.data) {
		return 1, nil // the string's end-of-file fault follows
	}
	switch c := s.data[i+1]; c {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
		for j := i + 2; j < i+6; j++ {
			if j >= len(s.data) {
				return j - i, nil
			}
			if !isHex(s.data[j]) {
				return 0, fault(i, `\u must be followed by four hex digits, got %s`, s.data[i:j+1])
			}
		}
		return 6, nil
	default:
		r, _ := utf8.DecodeRune(s.data[i+1:])
		return 0, fault(i, `\%c is not an escape JSON knows (a backslash is written \\; the escapes are `+
			`\", \\, \/, \b, \f, \n, \r, \t and \uXXXX)`, r)
	}
}

// number reads a number, or what looks like one.
func (s *scanner) number(key string) *syntaxFault {
	tok := s.token(s.pos)
	if why := badNumber(tok); why != "" {
		msg := fmt.Sprintf("%s is not a JSON number: %s", tok, why)
		if key == "umask" && len(tok) > 1 && tok[0] == '0' {
			msg += fmt.Sprintf(`; a umask is written as an octal string: "%s"`, tok)
		}
		return fault(s.pos, "%s", msg)
	}
	s.pos += len(tok)
	return nil
}

// badNumber says what is wrong with a number as written, or "" if nothing is:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func badNumber(tok []byte) string {
	t := string(tok)
	t = strings.TrimPrefix(t, "-")
	digits := func() int {
		n := 0
		for n < len(t) && isDigit(t[n]) {
			n++
		}
		t = t[n:]
		return n
	}
	switch {
	case strings.HasPrefix(string(tok), "+"):
		return "no '+' sign before a number"
	case strings.HasPrefix(t, "0x") || strings.HasPrefix(t, "0X"):
		return "numbers are decimal"
	case strings.HasPrefix(t, "."):
		return "a digit must come before the decimal point (0.5, not .5)"
	case len(t) > 1 && t[0] == '0' && isDigit(t[1]):
		return "no leading zeros"
	}
	if digits() == 0 {
		return "expected a digit after '-'"
	}
	if strings.HasPrefix(t, ".") {
		t = t[1:]
		if digits() == 0 {
			return "a digit must follow the decimal point (1.0, not 1.)"
		}
	}
	if strings.HasPrefix(t, "e") || strings.HasPrefix(t, "E") {
		t = strings.TrimLeft(t[1:], "+-")
		if digits() == 0 {
			return "the exponent has no digits"
		}
	}
	if t != "" {
		return "unexpected " + quoteShort(t) + " in it"
	}
	return ""
}

// word reads true, false or null, and explains any other bare word.
func (s *scanner) word() *syntaxFault {
	w := string(s.token(s.pos))
	switch w {
	case "true", "false", "null":
		s.pos += len(w)
		return nil
	}
	switch low := strings.ToLower(w); {
	case low == "true" || low == "false" || low == "null":
		return fault(s.pos, "%s is not a JSON value: write %s (in lower case)", w, low)
	case low == "none" || low == "nil" || low == "undefined":
		return fault(s.pos, "%s is not a JSON value: write null", w)
	case low == "nan" || low == "infinity":
		return fault(s.pos, "%s is not a JSON value: JSON numbers are finite", w)
	}
	for _, lit := range []string{"true", "false", "null"} {
		if editDistance(strings.ToLower(w), lit) <= 1 {
			return fault(s.pos, "%s is not a JSON value (did you mean %s?)", w, lit)
		}
	}
	return fault(s.pos, "unquoted text %s: strings are written in double quotes: %s", w, quoteShort(w))
}

// token returns the word or number-like run of bytes at off.
func (s *scanner) token(off int) []byte {
	end := off
	for end < len(s.data) && (isWordByte(s.data[end]) || isDigit(s.data[end]) || strings.IndexByte("+-.", s.data[end]) >= 0) {
		end++
	}
	if end == off {
		end++
	}
	return s.data[off:end]
}

// startsValue reports whether c can start a value (or looks like it could:
// a bare word).
func startsValue(c byte) bool {
	return c == '"' || c == '{' || c == '[' || c == '-' || isDigit(c) || isWordByte(c)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// isWordByte reports whether c can be part of a bare word: true, None, cmd.
func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '$'
}
