package jobfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
)

// MaxFileSize is the largest job file Parse accepts, far above any real job
// file, so that a mistaken file (a log, a binary) fails fast.
const MaxFileSize = 1 << 20

// parser holds the state of one Parse call.
type parser struct {
	spec *Spec
	dir  string // absolute directory of the job file: the base of relative paths
	errs *errorList
}

// Parse validates one job file. path is the file's path: the job name is
// its base name without Suffix, and relative paths in the file are taken
// from its directory (made absolute with the current directory if needed).
// data is the file's content. Every problem found is reported, as *Error
// values joined with errors.Join; the Spec is nil when there is any.
func Parse(path string, data []byte) (*Spec, error) {
	if len(data) > MaxFileSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf(
			"the file is %d bytes, more than the %d bytes (1 MiB) a job file may hold", len(data), MaxFileSize)}
	}
	data = bytes.TrimPrefix(data, bom)
	errs := &errorList{file: path, data: data}
	name, err := nameFromPath(path)
	if err != nil {
		errs.add(-1, "", err.Error(), err)
	}
	ms, ok := readObject(data, errs)
	if !ok {
		return nil, errs.err()
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, &Error{File: path, Msg: "resolve the job file's directory: " + err.Error(), Err: err}
	}
	p := &parser{spec: &Spec{Name: name, Umask: -1}, dir: dir, errs: errs}
	found := p.index(ms)
	keys := keys()
	for i := range keys {
		if keys[i].aliasOf == "" {
			p.apply(&keys[i], found)
		}
	}
	p.checkTTY(found)
	if len(errs.errs) > 0 {
		return nil, errs.err()
	}
	return p.spec, nil
}

// index maps each canonical key to the member that sets it, reporting
// unknown keys, duplicate keys and a key set under two names.
func (p *parser) index(ms []member) map[string]member {
	seen := map[string]member{}  // by key as written
	found := map[string]member{} // by canonical key
	for _, m := range ms {
		k := lookupKey(m.key)
		if k == nil {
			p.errs.add(m.keyOff, m.key, unknownKey(m.key), nil)
			continue
		}
		if first, dup := seen[m.key]; dup {
			p.errs.add(m.keyOff, m.key, "duplicate key (first set at "+p.at(first.keyOff)+")", nil)
			continue
		}
		seen[m.key] = m
		c := k.canonical().name
		if first, both := found[c]; both {
			p.errs.add(m.keyOff, m.key, fmt.Sprintf("%q (at %s) and %q both set %s; keep only one",
				first.key, p.at(first.keyOff), m.key, c), nil)
			continue
		}
		found[c] = m
	}
	return found
}

// apply decodes the value of the canonical key k (given under its own name
// or an alias), or its default when the file does not set it.
func (p *parser) apply(k *keyDef, found map[string]member) {
	m, ok := found[k.name]
	switch {
	case ok:
		set := lookupKey(m.key).setter()
		err := set(p, m.raw)
		var nested *atError
		switch {
		case errors.As(err, &nested):
			// A nested key's problem (in ready or health) points at that key.
			p.errs.add(m.valOff+nested.off, m.key, err.Error(), err)
		case err != nil:
			p.errs.add(m.valOff, m.key, err.Error(), err)
		}
	case k.required:
		p.errs.add(-1, k.name, "required key is missing", nil)
	case k.def != nil:
		// Defaults go through the same decoder as values in files, so that
		// the documented default is the real one.
		if err := k.set(p, mustJSON(k.def)); err != nil {
			panic(fmt.Sprintf("jobfile: default of %s: %v", k.name, err))
		}
	}
}

// at formats the position of byte offset off as LINE:COL.
func (p *parser) at(off int) string {
	line, col := position(p.errs.data, off)
	return fmt.Sprintf("%d:%d", line, col)
}

// mustJSON encodes a value built in this package, which cannot fail.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// setDependsOn decodes depends_on: distinct valid job names, not the job
// itself, kept sorted. Whether they exist is checked by CheckSet.
func setDependsOn(p *parser, raw json.RawMessage) error {
	list, err := asList(raw, `an array of job names, like ["db", "cache"]`)
	if err != nil {
		return err
	}
	deps := make([]string, 0, len(list))
	for i, el := range list {
		name, err := asString(el, "a job name")
		if err == nil {
			err = ValidName(name)
		}
		if err == nil && name == p.spec.Name {
			err = fmt.Errorf("a job cannot depend on itself (%q)", name)
		}
		if err == nil && slices.Contains(deps, name) {
			err = fmt.Errorf("%q is listed twice", name)
		}
		if err != nil {
			return fmt.Errorf("element %d: %w", i+1, err)
		}
		deps = append(deps, name)
	}
	slices.Sort(deps)
	p.spec.DependsOn = deps
	return nil
}
