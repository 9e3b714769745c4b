package jobfile

import (
	"bytes"
	"encoding/json"
	"maps"
)

// schemaDraft is the JSON Schema dialect of Schema: draft-07 is the one
// editors support best.
const schemaDraft = "http://json-schema.org/draft-07/schema#"

// Schema returns the JSON Schema of job files, built from the key table:
// indented with two spaces, ending in a newline, the same bytes every time.
// It is a help for editors and is looser than Parse in places (ranges of
// octal umasks, signal names, user existence); Parse has the last word.
func Schema() []byte {
	props := obj{}
	var required, exclusive []any
	keys := keys()
	for i := range keys {
		k := &keys[i]
		props[k.name] = k.schemaProperty()
		if k.required {
			required = append(required, k.name)
		}
		if k.aliasOf != "" {
			exclusive = append(exclusive, obj{"not": obj{"required": []any{k.aliasOf, k.name}}})
		}
	}
	root := obj{
		"$schema":              schemaDraft,
		"title":                "taskmaster job file (NAME" + Suffix + ")",
		"description":          "One job supervised by taskmasterd. See docs/jobs.md.",
		"type":                 "object",
		"required":             required,
		"additionalProperties": false,
		"properties":           props,
		"allOf":                exclusive,
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		panic("jobfile: encode schema: " + err.Error())
	}
	return b.Bytes()
}

// schemaProperty returns the schema of k's value, with its description
// and default.
func (k *keyDef) schemaProperty() obj {
	c := k.canonical()
	p := maps.Clone(k.schema)
	if p == nil {
		p = maps.Clone(c.schema)
	}
	p["description"] = k.desc
	if k.desc == "" {
		p["description"] = "Alias of " + c.name + " (original Taskmaster). " + c.desc
	}
	if k.def != nil {
		p["default"] = k.def
	}
	return p
}
