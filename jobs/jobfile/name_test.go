package jobfile

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidName(t *testing.T) {
	for _, name := range []string{"web", "a", "0", "Web-2", "api.v2", "my_job", strings.Repeat("a", 64), "all2", "ball"} {
		require.NoError(t, ValidName(name), name)
	}
	for _, name := range []string{"", "all", "All", "ALL", "-web", ".web", "_web", "a b", "a/b", "é", "a:b",
		strings.Repeat("a", 65), "web\n"} {
		err := ValidName(name)
		require.ErrorIs(t, err, ErrInvalidName, name)
		require.ErrorContains(t, err, "invalid job name")
	}
	require.EqualError(t, ValidName("all"), `invalid job name "all": "all" is reserved (taskmasterctl uses it for every job)`)
}

func TestNameFromFile(t *testing.T) {
	tests := []struct {
		file string
		name string
		ok   bool
	}{
		{"web.tm.json", "web", true},
		{"/etc/taskmaster/jobs/web.tm.json", "web", true},
		{"a b.tm.json", "a b", true},
		{"api.v2.tm.json", "api.v2", true},
		{".web.tm.json", "", false},
		{".tm.json", "", false},
		{"web.json", "", false},
		{"web.tm.json.swp", "", false},
		{"web.tm.json~", "", false},
		{"web.TM.JSON", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		name, ok := NameFromFile(tt.file)
		require.Equal(t, tt.ok, ok, tt.file)
		require.Equal(t, tt.name, name, tt.file)
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct{ key, want string }{
		{"nmprocs", "numprocs"},
		{"numproc", "numprocs"},
		{"NUMPROCS", "numprocs"},
		{"autostrat", "autostart"},
		{"stopsig", "stopSig"},
		{"stopsgnal", "stopsignal"},
		{"stopSignal", "stopsignal"},
		{"workdir", "workingdir"},
		{"cwd", "workingdir"},
		{"command", "cmd"},
		{"cdm", "cmd"},
		{"environment", "env"},
		{"dependsOn", "depends_on"},
		{"depends-on", "depends_on"},
		{"exit_codes", "exitcodes"},
		{"runAs", "runas"},
		{"procnr", "procNr"},
		{"startsecs", "starttime"},
		{"xyzzy", ""},
		{"program_name", ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, suggest(tt.key), tt.key)
	}
}
