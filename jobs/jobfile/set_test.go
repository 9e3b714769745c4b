package jobfile

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// graph builds specs from a name -> depends_on map.
func graph(deps map[string][]string) map[string]*Spec {
	specs := map[string]*Spec{}
	for name, d := range deps {
		specs[name] = &Spec{Name: name, DependsOn: d}
	}
	return specs
}

// messages turns CheckSet's result into strings, for comparison.
func messages(errs map[string]error) map[string]string {
	out := map[string]string{}
	for name, err := range errs {
		out[name] = err.Error()
	}
	return out
}

func TestCheckSet(t *testing.T) {
	tests := []struct {
		name string
		deps map[string][]string
		want map[string]string
	}{
		{"empty", nil, map[string]string{}},
		{"sound", map[string][]string{"web": {"db", "cache"}, "db": nil, "cache": {"db"}}, map[string]string{}},
		{"unknown", map[string][]string{"web": {"db"}},
			map[string]string{"web": `depends_on: unknown job "db" (no db.tm.json was found)`}},
		{"two unknown", map[string][]string{"web": {"a", "b"}}, map[string]string{
			"web": "depends_on: unknown job \"a\" (no a.tm.json was found)\ndepends_on: unknown job \"b\" (no b.tm.json was found)"}},
		{"cycle of two", map[string][]string{"web": {"db"}, "db": {"web"}}, map[string]string{
			"web": "depends_on: cycle web -> db -> web",
			"db":  "depends_on: cycle db -> web -> db"}},
		{"self", map[string][]string{"web": {"web"}}, map[string]string{"web": "depends_on: cycle web -> web"}},
		{"cycle of three and a dependent", map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"d"}, "f": nil},
			map[string]string{
				"a": "depends_on: cycle a -> b -> c -> a",
				"b": "depends_on: cycle b -> c -> a -> b",
				"c": "depends_on: cycle c -> a -> b -> c",
				"d": `depends_on: job "a" has errors, so this job could never start`,
				"e": `depends_on: job "d" has errors, so this job could never start`,
			}},
		{"shortest cycle shown", map[string][]string{"a": {"b", "c"}, "b": {"c"}, "c": {"a"}}, map[string]string{
			"a": "depends_on: cycle a -> c -> a",
			"b": "depends_on: cycle b -> c -> a -> b",
			"c": "depends_on: cycle c -> a -> c"}},
		{"dependent of unknown", map[string][]string{"web": {"api"}, "api": {"db"}}, map[string]string{
			"api": `depends_on: unknown job "db" (no db.tm.json was found)`,
			"web": `depends_on: job "api" has errors, so this job could never start`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := CheckSet(graph(tt.deps))
			require.Equal(t, tt.want, messages(errs))
			for _, e := range flatten(errs["web"]) {
				require.Equal(t, "depends_on", e.Key)
			}
			// The same input gives the same answer.
			require.Equal(t, messages(errs), messages(CheckSet(graph(tt.deps))))
		})
	}
}
