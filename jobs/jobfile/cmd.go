package jobfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// setCmd decodes cmd: a command line split like a shell splits words (see
// splitWords), or an array of strings used as is (the exec form).
func setCmd(p *parser, raw json.RawMessage) error {
	if len(raw) > 0 && raw[0] == '[' {
		return cmdList(p, raw)
	}
	s, err := asString(raw, "a command line (string) or a non-empty array of strings")
	if err != nil {
		return err
	}
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("expected a command to run, got %s", quoteShort(s))
	}
	words, err := splitWords(s)
	if err != nil {
		return err
	}
	if len(words) == 0 || words[0] == "" {
		return errors.New("the program name (the first word) is empty")
	}
	p.spec.Cmd = words
	return nil
}

// cmdList decodes the exec form of cmd.
func cmdList(p *parser, raw json.RawMessage) error {
	list, err := asList(raw, "an array of strings")
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return errors.New(`expected at least the program in the array, like ["sleep", "10"], got an empty array`)
	}
	cmd := make([]string, len(list))
	for i, el := range list {
		if cmd[i], err = asString(el, "a string"); err != nil {
			return fmt.Errorf("element %d: %w", i+1, err)
		}
	}
	if cmd[0] == "" {
		return errors.New("element 1, the program, is empty")
	}
	p.spec.Cmd = cmd
	return nil
}
