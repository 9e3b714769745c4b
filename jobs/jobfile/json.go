package jobfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// member is one key of a JSON object, with where it was found.
type member struct {
	key    string          // the key as written
	keyOff int             // byte offset of the key's opening quote
	valOff int             // byte offset of the value's first byte
	raw    json.RawMessage // the value, exactly as written
}

// bom is the UTF-8 byte order mark some editors put at the start of a file;
// JSON does not allow it, but refusing a file for an invisible mark helps no one.
var bom = []byte{0xEF, 0xBB, 0xBF}

// readObject checks that data holds exactly one JSON object and returns its
// members in file order, duplicates included. Problems go to l.
func readObject(data []byte, l *errorList) ([]member, bool) {
	start := skip(data, 0, 0)
	if start == len(data) {
		l.add(-1, "", `the file is empty (a job file is a JSON object with at least "cmd")`, nil)
		return nil, false
	}
	// Unmarshal validates the whole input first, and its syntax errors carry
	// a reliable offset, unlike the Decoder's.
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		off, msg := syntaxProblem(data, err)
		l.add(off, "", msg, err)
		return nil, false
	}
	if data[start] != '{' {
		l.add(start, "", "expected a JSON object {...} at the top level, got "+describe(data[start:]), nil)
		return nil, false
	}
	return members(data), true
}

// syntaxProblem turns an error from json.Unmarshal into a byte offset and a
// message for people. The scanner of syntax.go says what is wrong; should it
// find nothing (a file nested deeper than it follows), encoding/json's own
// words are better than none.
func syntaxProblem(data []byte, err error) (int, string) {
	if f := findSyntaxError(data); f != nil {
		return f.off, f.msg
	}
	var se *json.SyntaxError
	if !errors.As(err, &se) || se.Offset < 1 || int(se.Offset) > len(data) {
		return -1, "invalid JSON: " + err.Error()
	}
	return int(se.Offset) - 1, "invalid JSON: " + se.Error() // Offset counts the offending byte
}

// members returns the members of the JSON object in data, which must be
// valid JSON (checked by the caller), in order.
func members(data []byte) []member {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // the opening brace
		return nil
	}
	var ms []member
	for dec.More() {
		keyOff := skip(data, int(dec.InputOffset()), ',')
		tok, err := dec.Token()
		if err != nil {
			break
		}
		key, _ := tok.(string)
		valOff := skip(data, int(dec.InputOffset()), ':')
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			break
		}
		ms = append(ms, member{key: key, keyOff: keyOff, valOff: valOff, raw: raw})
	}
	return ms
}

// skip returns the offset of the first byte at or after off that is neither
// JSON whitespace nor sep.
func skip(data []byte, off int, sep byte) int {
	for off < len(data) {
		switch c := data[off]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		case sep != 0 && c == sep:
		default:
			return off
		}
		off++
	}
	return off
}

// describe names a JSON value for a "got ..." message: numbers, booleans
// and null as written, strings quoted (shortened when long), arrays and
// objects by their kind.
func describe(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "a string"
		}
		return quoteShort(s)
	}
	// Numbers, true, false and null: print them as written.
	end := bytes.IndexAny(raw, " \t\r\n,]}")
	if end < 0 {
		end = len(raw)
	}
	return string(raw[:end])
}

// quoteShort quotes s, cutting it when it is too long to read in a message.
func quoteShort(s string) string {
	const limit = 40
	if utf8.RuneCountInString(s) <= limit {
		return strconv.Quote(s)
	}
	return strconv.Quote(string([]rune(s)[:limit])) + "..."
}
