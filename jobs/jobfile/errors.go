package jobfile

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is one problem found in a job file. Parse and LoadDir return them
// joined with errors.Join, one per problem, so that a user fixes a file in
// one pass instead of one error at a time.
type Error struct {
	File string // the job file's path as given to Parse; "" when unknown
	Line int    // 1-based line of the offending key or value; 0 when unknown
	Col  int    // 1-based column, counted in characters; 0 when unknown
	Key  string // the key as written in the file (an alias stays an alias); "" for file-level problems
	Msg  string // what was expected and what was found
	Err  error  // the underlying cause, when there is one (for errors.Is)
}

// Error formats the problem as FILE:LINE:COL: KEY: MSG, leaving out the
// parts that are unknown. Keys the package does not know are quoted, so that
// a misspelt key stands out as written.
func (e *Error) Error() string {
	var parts []string
	loc := e.File
	if e.Line > 0 {
		loc = strings.TrimPrefix(fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Col), ":")
	}
	if loc != "" {
		parts = append(parts, loc)
	}
	switch {
	case e.Key == "":
	case lookupKey(e.Key) != nil:
		parts = append(parts, e.Key)
	default:
		parts = append(parts, strconv.Quote(e.Key))
	}
	return strings.Join(append(parts, e.Msg), ": ")
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// position converts a byte offset in data to a 1-based line and a 1-based
// column counted in characters, as editors show them.
func position(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	line = 1 + strings.Count(string(data[:off]), "\n")
	start := strings.LastIndexByte(string(data[:off]), '\n') + 1
	return line, utf8.RuneCount(data[start:off]) + 1
}

// errorList collects the errors of one file together with the byte offset
// they point at, so they can be reported in file order.
type errorList struct {
	file string
	data []byte
	errs []offsetError
}

type offsetError struct {
	off int // -1 sorts last: problems with no place in the file (missing keys)
	err *Error
}

// add records a problem at byte offset off of the file; off < 0 means the
// problem has no position.
func (l *errorList) add(off int, key, msg string, cause error) {
	e := &Error{File: l.file, Key: key, Msg: msg, Err: cause}
	if off >= 0 {
		e.Line, e.Col = position(l.data, off)
	}
	l.errs = append(l.errs, offsetError{off, e})
}

// err returns the collected errors in file order, joined, or nil.
func (l *errorList) err() error {
	slices.SortStableFunc(l.errs, func(a, b offsetError) int {
		switch {
		case a.off < 0 && b.off >= 0:
			return 1
		case b.off < 0 && a.off >= 0:
			return -1
		}
		return cmp.Compare(a.off, b.off)
	})
	errs := make([]error, len(l.errs))
	for i, e := range l.errs {
		errs[i] = e.err
	}
	return errors.Join(errs...)
}
