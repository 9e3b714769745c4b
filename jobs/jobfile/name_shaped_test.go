package jobfile

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// NameShaped says exactly what namePattern, the pattern the JSON Schema
// publishes, says.
func TestNameShapedIsNamePattern(t *testing.T) {
	re := regexp.MustCompile(namePattern)
	for _, s := range []string{
		"", "a", "Z", "0", "web", "web-1", "a.b_c-d", ".a", "_a", "-a", "a b", "a/b", "a\n", "\na",
		"é", "aé", "a\x00", strings.Repeat("a", 64), strings.Repeat("a", 65), "all", "a:b", "a*",
	} {
		require.Equal(t, re.MatchString(s), NameShaped(s), "%q", s)
	}
}

func FuzzNameShaped(f *testing.F) {
	re := regexp.MustCompile(namePattern)
	f.Add("web-1")
	f.Fuzz(func(t *testing.T, s string) {
		if re.MatchString(s) != NameShaped(s) {
			t.Fatalf("%q: NameShaped says %v", s, NameShaped(s))
		}
	})
}
