package jobfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// setEnv decodes env: an object of strings, or the original Taskmaster's
// list of {"name": ..., "value": ...} objects.
func setEnv(p *parser, raw json.RawMessage) error {
	env := map[string]string{}
	var err error
	switch {
	case len(raw) > 0 && raw[0] == '{':
		err = envObject(env, raw)
	case len(raw) > 0 && raw[0] == '[':
		err = envList(env, raw)
	default:
		err = fmt.Errorf(`expected an object like {"NAME": "value"}, got %s`, describe(raw))
	}
	p.spec.Env = env
	return err
}

// envObject decodes {"NAME": "value", ...} into env. Members are read one by
// one because a map would silently drop a duplicate name.
func envObject(env map[string]string, raw json.RawMessage) error {
	for _, m := range members(raw) {
		if err := checkEnvName(m.key); err != nil {
			return err
		}
		v, err := asString(m.raw, "a string value")
		if err != nil {
			return fmt.Errorf("variable %s: %w (write numbers and booleans as strings)", m.key, err)
		}
		if err := addEnv(env, m.key, v); err != nil {
			return err
		}
	}
	return nil
}

// envList decodes [{"name": "NAME", "value": "value"}, ...] into env.
func envList(env map[string]string, raw json.RawMessage) error {
	list, err := asList(raw, "an array")
	if err != nil {
		return err
	}
	for i, el := range list {
		name, value, err := envPair(el)
		if err == nil {
			err = addEnv(env, name, value)
		}
		if err != nil {
			return fmt.Errorf("element %d: %w", i+1, err)
		}
	}
	return nil
}

// envPair decodes one {"name": ..., "value": ...} element.
func envPair(raw json.RawMessage) (name, value string, err error) {
	const want = `expected {"name": "NAME", "value": "value"}`
	if len(raw) == 0 || raw[0] != '{' {
		return "", "", fmt.Errorf("%s, got %s", want, describe(raw))
	}
	var seen []string
	for _, m := range members(raw) {
		switch m.key {
		case "name":
			name, err = asString(m.raw, "a string name")
		case "value":
			value, err = asString(m.raw, "a string value (write numbers and booleans as strings)")
		default:
			err = fmt.Errorf("%s, got the key %q", want, m.key)
		}
		if err != nil {
			return "", "", err
		}
		seen = append(seen, m.key)
	}
	if len(seen) != 2 || seen[0] == seen[1] {
		return "", "", fmt.Errorf("%s with both keys once each", want)
	}
	return name, value, checkEnvName(name)
}

// addEnv adds one variable, refusing a name given twice.
func addEnv(env map[string]string, name, value string) error {
	if _, dup := env[name]; dup {
		return fmt.Errorf("variable %s is set twice", name)
	}
	env[name] = value
	return nil
}

// checkEnvName checks that name can be a variable in an environment block:
// execve takes "NAME=value" strings, so the name cannot hold "=" or NUL.
func checkEnvName(name string) error {
	switch {
	case name == "":
		return errors.New("a variable name is empty")
	case strings.ContainsRune(name, '='):
		return fmt.Errorf("variable name %s must not contain \"=\"", quoteShort(name))
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("variable name %s %w", quoteShort(name), errNUL)
	}
	return nil
}
