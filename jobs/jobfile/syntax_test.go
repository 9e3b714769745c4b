package jobfile

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// member3 builds a file whose line 3 is `  "KEY": VALUE` after a valid cmd,
// so that the value starts at 3:len(key)+7.
func member3(key, value string) string {
	return "{\n  \"cmd\": \"x\",\n  \"" + key + "\": " + value + "\n}"
}

// TestSyntaxErrors checks the exact message and position of each kind of
// JSON syntax error: what is wrong in the user's terms, at the character
// to fix (for an unexpected end of file, at the end, naming where the
// unclosed thing starts).
func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name      string
		data      string
		line, col int
		msg       string
	}{
		// Separators.
		{"missing comma between members", "{\n  \"cmd\": \"x\"\n  \"numprocs\": 2\n}", 3, 3,
			`invalid JSON: missing ',' before "numprocs" (after the value of "cmd")`},
		{"missing comma between values", "{\n  \"cmd\": \"x\" \"y\"\n}", 2, 14,
			`invalid JSON: missing ',' before "y" (after the value of "cmd")`},
		{"missing comma in array", "{\n  \"cmd\": [\"a\" \"b\"]\n}", 2, 15,
			`invalid JSON: missing ',' before "b" (after element 1 of the array)`},
		{"missing colon", "{\n  \"cmd\" \"x\"\n}", 2, 9, `invalid JSON: missing ':' after the key "cmd"`},
		{"equals for colon", "{\n  \"cmd\" = \"x\"\n}", 2, 9, `invalid JSON: expected ':' after the key "cmd", got '='`},
		{"trailing comma in object", "{\n  \"cmd\": \"x\",\n}", 3, 1, `invalid JSON: a comma before '}' (JSON allows no trailing comma)`},
		{"trailing comma in array", "{\n  \"cmd\": [\"a\", \"b\",]\n}", 2, 20, `invalid JSON: a comma before ']' (JSON allows no trailing comma)`},
		{"double comma", "{\n  \"cmd\": \"x\",,\n  \"numprocs\": 2\n}", 2, 14,
			`invalid JSON: a comma where a key should be (one comma goes between two members)`},
		{"leading comma", "{,\n  \"cmd\": \"x\"\n}", 1, 2,
			`invalid JSON: a comma where a key should be (one comma goes between two members)`},
		{"semicolon", "{\n  \"cmd\": \"x\";\n}", 2, 13, `invalid JSON: expected ',' or '}' after the value of "cmd", got ';'`},
		{"missing value", member3("numprocs", ""), 4, 1, `invalid JSON: the value of "numprocs" is missing before '}'`},
		{"missing element", "{\n  \"cmd\": [\"a\",,\"b\"]\n}", 2, 15, `invalid JSON: a value is missing before ','`},
		{"bracket closes object", "{\n  \"cmd\": \"x\"]\n", 2, 13,
			`invalid JSON: ']' does not close the object that starts at 1:1 (it ends with '}')`},
		{"brace closes array", "{\n  \"cmd\": [\"a\", \"b\"}\n}", 2, 19,
			`invalid JSON: '}' does not close the array that starts at 2:10 (it ends with ']')`},

		// Keys and quotes.
		{"unquoted key", "{\n  cmd: \"x\"\n}", 2, 3, `invalid JSON: the key cmd must be in double quotes: "cmd"`},
		{"number key", "{\n  1: \"x\"\n}", 2, 3, `invalid JSON: expected a key in double quotes, got 1`},
		{"single-quoted key", "{\n  'cmd': \"x\"\n}", 2, 3, `invalid JSON: strings are written in double quotes: 'cmd' should be "cmd"`},
		{"single-quoted value", "{\n  \"cmd\": 'sleep 1'\n}", 2, 10,
			`invalid JSON: strings are written in double quotes: 'sleep 1' should be "sleep 1"`},
		{"unclosed single quote", "{\n  \"cmd\": 'sleep 1\n}", 2, 10, `invalid JSON: strings are written in double quotes ("), not single quotes`},
		{"typographic quotes key", "{\n  “cmd”: \"x\"\n}", 2, 3,
			`invalid JSON: “ is a typographic quote: JSON strings are written in plain double quotes (")`},
		{"typographic quotes value", "{\n  \"cmd\": ‘x’\n}", 2, 10,
			`invalid JSON: ‘ is a typographic quote: JSON strings are written in plain double quotes (")`},

		// Strings.
		{"unterminated string", "{\n  \"cmd\": \"sleep 1\n}", 2, 18,
			`invalid JSON: the string that starts at 2:10 is not closed before the end of the line (a string cannot span lines: write a line break as \n)`},
		{"unterminated string CRLF", "{\r\n  \"cmd\": \"sleep 1\r\n}", 2, 18,
			`invalid JSON: the string that starts at 2:10 is not closed before the end of the line (a string cannot span lines: write a line break as \n)`},
		{"tab in string", "{\n  \"cmd\": \"a\tb\"\n}", 2, 12, `invalid JSON: a tab inside a string must be written \t`},
		{"control character in string", "{\n  \"cmd\": \"a\x01b\"\n}", 2, 12,
			`invalid JSON: the control character U+0001 inside a string must be written \u0001`},
		{"bad escape", "{\n  \"cmd\": \"C:\\dir\\x\"\n}", 2, 13,
			`invalid JSON: \d is not an escape JSON knows (a backslash is written \\; the escapes are \", \\, \/, \b, \f, \n, \r, \t and \uXXXX)`},
		{"bad unicode escape", "{\n  \"cmd\": \"\\u12G4\"\n}", 2, 11, `invalid JSON: \u must be followed by four hex digits, got \u12G`},

		// Words and numbers.
		{"True", member3("autostart", "True"), 3, 16, `invalid JSON: True is not a JSON value: write true (in lower case)`},
		{"FALSE", member3("autostart", "FALSE"), 3, 16, `invalid JSON: FALSE is not a JSON value: write false (in lower case)`},
		{"None", member3("user", "None"), 3, 11, `invalid JSON: None is not a JSON value: write null`},
		{"undefined", member3("user", "undefined"), 3, 11, `invalid JSON: undefined is not a JSON value: write null`},
		{"misspelt true", member3("autostart", "ture"), 3, 16, `invalid JSON: ture is not a JSON value (did you mean true?)`},
		{"truncated null", member3("user", "nul"), 3, 11, `invalid JSON: nul is not a JSON value (did you mean null?)`},
		{"bare word", member3("stdout", "console"), 3, 13,
			`invalid JSON: unquoted text console: strings are written in double quotes: "console"`},
		{"NaN", member3("starttime", "NaN"), 3, 16, `invalid JSON: NaN is not a JSON value: JSON numbers are finite`},
		{"octal umask", member3("umask", "022"), 3, 12,
			`invalid JSON: 022 is not a JSON number: no leading zeros; a umask is written as an octal string: "022"`},
		{"leading zero", member3("numprocs", "02"), 3, 15, `invalid JSON: 02 is not a JSON number: no leading zeros`},
		{"plus sign", member3("numprocs", "+2"), 3, 15, `invalid JSON: +2 is not a JSON number: no '+' sign before a number`},
		{"leading point", member3("starttime", ".5"), 3, 16,
			`invalid JSON: .5 is not a JSON number: a digit must come before the decimal point (0.5, not .5)`},
		{"trailing point", member3("starttime", "1."), 3, 16,
			`invalid JSON: 1. is not a JSON number: a digit must follow the decimal point (1.0, not 1.)`},
		{"hex", member3("numprocs", "0x10"), 3, 15, `invalid JSON: 0x10 is not a JSON number: numbers are decimal`},
		{"lone minus", member3("numprocs", "-"), 3, 15, `invalid JSON: - is not a JSON number: expected a digit after '-'`},
		{"empty exponent", member3("starttime", "1e"), 3, 16, `invalid JSON: 1e is not a JSON number: the exponent has no digits`},
		{"unit after number", member3("starttime", "5s"), 3, 16, `invalid JSON: 5s is not a JSON number: unexpected "s" in it`},

		// Stray characters and comments.
		{"stray character after value", "{\n  \"cmd\": \"x\" @\n}", 2, 14, `invalid JSON: expected ',' or '}' after the value of "cmd", got '@'`},
		{"stray character for value", "{\n  \"cmd\": @\n}", 2, 10,
			`invalid JSON: expected the value of "cmd" (a string, number, object, array, true, false or null), got '@'`},
		{"stray control byte", "{\n  \"cmd\": \"x\"\x01\n}", 2, 13, `invalid JSON: expected ',' or '}' after the value of "cmd", got the byte 0x01`},
		{"line comment", "{\n  // the command\n  \"cmd\": \"x\"\n}", 2, 3, `invalid JSON: JSON has no comments: remove this // comment`},
		{"block comment", "{\n  \"cmd\": \"x\" /* run */\n}", 2, 14, `invalid JSON: JSON has no comments: remove this /* */ comment`},
		{"comment after the object", "{\n  \"cmd\": \"x\"\n} // end", 3, 3, `invalid JSON: JSON has no comments: remove this // comment`},

		// The end of the file.
		{"end in object", "{\n  \"cmd\": \"x\",", 2, 14, `unexpected end of file: the object that starts at 1:1 is not closed ('}' is missing)`},
		{"end after key", "{\n  \"cmd\"", 2, 8, `unexpected end of file: the object that starts at 1:1 is not closed ('}' is missing)`},
		{"end after colon", "{\n  \"cmd\":", 2, 9, `unexpected end of file: the object that starts at 1:1 is not closed ('}' is missing)`},
		{"end in array", "{\n  \"cmd\": [\"a\",", 2, 15, `unexpected end of file: the array that starts at 2:10 is not closed (']' is missing)`},
		{"end in string", "{\n  \"cmd\": \"sleep 1", 2, 18, `unexpected end of file: the string that starts at 2:10 is not closed ('"' is missing)`},
		{"end in escape", "{\"cmd\": \"x\\", 1, 12, `unexpected end of file: the string that starts at 1:9 is not closed ('"' is missing)`},
		{"end in unicode escape", "{\"cmd\": \"x\\u12", 1, 15, `unexpected end of file: the string that starts at 1:9 is not closed ('"' is missing)`},
		{"data after the object", "{\n  \"cmd\": \"x\"\n}\n}", 4, 1,
			`unexpected data after the end of the job object (a job file holds exactly one JSON object)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.False(t, json.Valid([]byte(tt.data)), "the case is valid JSON")
			_, err := Parse(testPath, []byte(tt.data))
			errs := flatten(err)
			require.Len(t, errs, 1, "errors: %v", err)
			require.Equal(t, &Error{File: testPath, Line: tt.line, Col: tt.col, Msg: tt.msg, Err: errs[0].Err}, errs[0])
		})
	}
}

// Nesting is bounded where encoding/json bounds it.
func TestSyntaxTooDeep(t *testing.T) {
	data := `{"cmd": ` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + "}"
	require.Nil(t, findSyntaxError([]byte(data)))
	require.True(t, json.Valid([]byte(data)))
	data = `{"cmd": ` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "}"
	require.False(t, json.Valid([]byte(data)))
	_, err := Parse(testPath, []byte(data))
	require.EqualError(t, err, testPath+":1:10008: invalid JSON: objects and arrays are nested more than 10000 levels deep")
}

// The scanner agrees with encoding/json on what is JSON: it finds nothing
// in valid JSON (of every kind), and something in invalid JSON.
func TestSyntaxAgreesWithEncodingJSON(t *testing.T) {
	valid := []string{
		`{}`, `{"a":1}`, ` { "a" : [ 1 , -0 , 0.5 , 1e3 , 1E+3 , -1.5e-3 , true , false , null , "" , { } , [ ] ] } `,
		`{"a":"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"}`, "{\"a\":\"\x7f\xff\xfe é\"}", "{\"a\":\r\n\t1}",
		`[1]`, `"x"`, `1`, `null`, `{"a":{"b":{"c":[[[]]]}}}`,
	}
	for _, data := range valid {
		require.True(t, json.Valid([]byte(data)), data)
		require.Nil(t, findSyntaxError([]byte(data)), "%q", data)
	}
	invalid := []string{`{`, `}`, `{"a"}`, `{"a":}`, `[,]`, `[1,]`, `{"a":1,}`, `tru`, `"\u00"`, `01`, `-`, `1.`, `{"a":1}}`, `/`, `{"a":1}/`}
	for _, data := range invalid {
		require.False(t, json.Valid([]byte(data)), data)
		require.NotNil(t, findSyntaxError([]byte(data)), "%q", data)
	}
}

// FuzzSyntax checks that the scanner never panics and finds an error
// exactly when encoding/json does, at an offset inside the file.
func FuzzSyntax(f *testing.F) {
	for _, seed := range []string{
		`{"cmd": "x"}`, "{\n  \"cmd\": \"x\"\n  \"n\": 2\n}", `{'a': True}`, `{"a": [1, 2,]}`, `{"a": "\u12"}`,
		`{"a": 0x1F, // c` + "\n}", `{"a": -1.5e+3}`, "{\"a\": \"\t\"}", `[[[]]]`, `{"a": “b”}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if skip(data, 0, 0) == len(data) {
			return // empty files are told apart before
		}
		found := findSyntaxError(data)
		if valid := json.Valid(data); valid != (found == nil) {
			t.Fatalf("json.Valid %v, scanner %+v, for %q", valid, found, data)
		}
		if found != nil && (found.off < 0 || found.off > len(data)) {
			t.Fatalf("offset %d out of the file (%d bytes)", found.off, len(data))
		}
	})
}
