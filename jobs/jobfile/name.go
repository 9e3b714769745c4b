package jobfile

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ErrInvalidName is wrapped by every error about a job name.
var ErrInvalidName = errors.New("invalid job name")

// namePattern is what a job name looks like: safe in file names, log
// prefixes and command lines without quoting. NameShaped checks it; the
// JSON Schema says it.
const namePattern = `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`

// NameShaped reports whether s matches namePattern: 1 to 64 letters,
// digits, '.', '_' or '-', starting with a letter or digit. It is written
// out rather than a compiled regexp, which every start of taskmasterd
// would pay for at package initialisation.
func NameShaped(s string) bool {
	if len(s) == 0 || len(s) > 64 || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// reservedName is the word taskmasterctl uses for every job ("stop all").
const reservedName = "all"

// ValidName checks a job name: 1 to 64 letters, digits, '.', '_' or '-',
// starting with a letter or digit, and not "all" in any case.
func ValidName(name string) error {
	if !NameShaped(name) {
		return fmt.Errorf("%w %s: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
			ErrInvalidName, quoteShort(name))
	}
	if strings.EqualFold(name, reservedName) {
		return fmt.Errorf("%w %q: %q is reserved (taskmasterctl uses it for every job)", ErrInvalidName, name, reservedName)
	}
	return nil
}

// NameFromFile returns the job name of a job file: its base name without
// Suffix. It returns false for names that do not end in Suffix and for
// dotfiles, which editors and atomic writers use as temporary files. The
// name is not validated: see ValidName.
func NameFromFile(fileName string) (string, bool) {
	base := filepath.Base(fileName)
	name, ok := strings.CutSuffix(base, Suffix)
	if !ok || strings.HasPrefix(base, ".") {
		return "", false
	}
	return name, true
}

// nameFromPath returns the valid job name of the file at path.
func nameFromPath(path string) (string, error) {
	name, ok := NameFromFile(path)
	if !ok {
		return "", fmt.Errorf("%w: job file names look like NAME%s and do not start with '.', got %s",
			ErrInvalidName, Suffix, quoteShort(filepath.Base(path)))
	}
	return name, ValidName(name)
}
