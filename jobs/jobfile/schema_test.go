package jobfile

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite docs/tm.schema.json from Schema()")

// schemaFile is the committed copy of Schema(), for editors.
var schemaFile = filepath.Join("..", "..", "docs", "tm.schema.json")

// TestSchemaFile fails when docs/tm.schema.json drifts from Schema().
// Run go test ./jobs/jobfile -run TestSchemaFile -update to rewrite it.
func TestSchemaFile(t *testing.T) {
	if *update {
		require.NoError(t, os.WriteFile(schemaFile, Schema(), 0o644))
	}
	got, err := os.ReadFile(schemaFile)
	require.NoError(t, err)
	require.Equal(t, string(Schema()), string(got),
		"docs/tm.schema.json is stale: go test ./jobs/jobfile -run TestSchemaFile -update")
}

// schemaDoc is the part of the schema the tests look at.
type schemaDoc struct {
	Schema               string                    `json:"$schema"`
	Type                 string                    `json:"type"`
	Required             []string                  `json:"required"`
	AdditionalProperties *bool                     `json:"additionalProperties"`
	Properties           map[string]map[string]any `json:"properties"`
	AllOf                []any                     `json:"allOf"`
}

func TestSchemaFollowsTable(t *testing.T) {
	b := Schema()
	require.Equal(t, b, Schema(), "Schema must be deterministic")
	require.True(t, strings.HasSuffix(string(b), "}\n"))
	require.True(t, strings.HasPrefix(string(b), "{\n  \"$schema\""), "two-space indent")
	var doc schemaDoc
	require.NoError(t, json.Unmarshal(b, &doc))
	require.Equal(t, "http://json-schema.org/draft-07/schema#", doc.Schema)
	require.Equal(t, "object", doc.Type)
	require.Equal(t, []string{"cmd"}, doc.Required)
	require.NotNil(t, doc.AdditionalProperties)
	require.False(t, *doc.AdditionalProperties)

	var names []string
	aliases := 0
	for _, k := range keys() {
		names = append(names, k.name)
		p := doc.Properties[k.name]
		require.NotEmpty(t, p["description"], k.name)
		if k.aliasOf != "" {
			aliases++
			require.Contains(t, p["description"], "Alias of "+k.aliasOf+" (original Taskmaster)")
			require.NotContains(t, p, "default", k.name)
		}
	}
	require.ElementsMatch(t, names, mapKeys(doc.Properties))
	require.Len(t, doc.AllOf, aliases, "one exclusion per alias")
}

func mapKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestSchemaDefaults writes every documented default into a file: the job
// must be the same as with no keys at all.
func TestSchemaDefaults(t *testing.T) {
	var doc schemaDoc
	require.NoError(t, json.Unmarshal(Schema(), &doc))
	file := map[string]any{"cmd": "x"}
	for name, p := range doc.Properties {
		if def, ok := p["default"]; ok {
			file[name] = def
		}
	}
	require.Contains(t, file, "numprocs")
	data, err := json.Marshal(file)
	require.NoError(t, err)
	require.True(t, mustParse(t, string(data)).Equal(mustParse(t, `{"cmd": "x"}`)))
}
