package jobfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// setCmd decodes cmd: a command line split like a shell splits words (see
// splitWords), or an array of strings used as is (the exec form).
func setCmd(p *parser, raw json.RawMessage) (err error) {
	p.spec.Cmd, err = parseCommand(raw)
	return err
}

// parseCommand decodes a command as cmd is written: a command line, or an
// array of strings. The exec check of ready and health is written the
// same way.
func parseCommand(raw json.RawMessage) ([]string, error) {
	if len(raw) > 0 && raw[0] == '[' {
		return cmdList(raw)
	}
	s, err := asString(raw, "a command line (string) or a non-empty array of strings")
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("expected a command to run, got %s", quoteShort(s))
	}
	words, err := splitWords(s)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 || words[0] == "" {
		return nil, errors.New("the program name (the first word) is empty")
	}
	return words, nil
}

// cmdList decodes the exec form of a command.
func cmdList(raw json.RawMessage) ([]string, error) {
	list, err := asList(raw, "an array of strings")
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, errors.New(`expected at least the program in the array, like ["sleep", "10"], got an empty array`)
	}
	cmd := make([]string, len(list))
	for i, el := range list {
		if cmd[i], err = asString(el, "a string"); err != nil {
			return nil, fmt.Errorf("element %d: %w", i+1, err)
		}
	}
	if cmd[0] == "" {
		return nil, errors.New("element 1, the program, is empty")
	}
	return cmd, nil
}
