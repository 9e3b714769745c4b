package jobfile

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"sleep 10", []string{"sleep", "10"}},
		{"  sleep \t 10\n", []string{"sleep", "10"}},
		{"", nil},
		{"a 'b c' d", []string{"a", "b c", "d"}},
		{`a "b c" d`, []string{"a", "b c", "d"}},
		{`a '' b`, []string{"a", "", "b"}},
		{`a "" b`, []string{"a", "", "b"}},
		{`''`, []string{""}},
		{`a'b'c"d"e`, []string{"abcde"}},
		{`'it'\''s'`, []string{"it's"}},
		{`'a "b" \n $x'`, []string{`a "b" \n $x`}},
		{`"a \"b\" \\ \$x \` + "`" + `y\` + "`" + `"`, []string{"a \"b\" \\ $x `y`"}},
		{`"a \n \t \' b"`, []string{`a \n \t \' b`}},
		{"\"a\\\nb\"", []string{"ab"}},
		{"a\\\nb", []string{"ab"}},
		{"a \\\n b", []string{"a", "b"}},
		{`a\ b`, []string{"a b"}},
		{`\'a\' \"b\"`, []string{"'a'", `"b"`}},
		{`\$HOME \| \* \# \~`, []string{"$HOME", "|", "*", "#", "~"}},
		{`'$HOME' '|' '*' '#x' '~'`, []string{"$HOME", "|", "*", "#x", "~"}},
		{`a#b c~d x=y`, []string{"a#b", "c~d", "x=y"}},
		{`prog FOO=bar`, []string{"prog", "FOO=bar"}},
		{`"FOO"=bar prog`, []string{"FOO=bar", "prog"}},
		{`=x`, []string{"=x"}},
		{`1FOO=x`, []string{"1FOO=x"}},
		{"héllo 'wörld ✓'", []string{"héllo", "wörld ✓"}},
		{`a{b,c} ! %`, []string{"a{b,c}", "!", "%"}},
		{"a\rb", []string{"a\rb"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := splitWords(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSplitWordsErrors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{`echo 'abc`, "unterminated single quote (the ' at character 6 is never closed)"},
		{`echo "abc`, `unterminated double quote (the " at character 6 is never closed)`},
		{`é "abc\"`, `unterminated double quote (the " at character 3 is never closed)`},
		{`echo \`, "the backslash at character 6 escapes nothing"},
		{`a | b`, `unquoted '|' at character 3: cmd is not run by a shell, and pipes, redirections, command lists and subshells need a shell; quote or escape it to pass it as is, or use ["sh", "-c", "..."]`},
		{`a && b`, `unquoted '&'`},
		{`a; b`, `unquoted ';'`},
		{`a > f`, `unquoted '>'`},
		{`a < f`, `unquoted '<'`},
		{`(a)`, `unquoted '('`},
		{`echo $HOME`, "unquoted '$' at character 6: cmd is not run by a shell, and variable and command substitution need a shell"},
		{"echo `date`", "unquoted '`'"},
		{`echo "$HOME"`, `'$' at character 7 inside double quotes: variable and command substitution need a shell; write \$ for a literal $`},
		{"echo \"`date`\"", "'`' at character 7 inside double quotes"},
		{`ls *.go`, "unquoted '*' at character 4: cmd is not run by a shell, and file name patterns are expanded by a shell"},
		{`ls a?`, "unquoted '?'"},
		{`ls [ab]`, "unquoted '['"},
		{`a #comment`, "unquoted '#' at character 3: cmd is not run by a shell, and comments need a shell"},
		{`cat ~/x`, "unquoted '~' at character 5: cmd is not run by a shell, and ~ is expanded to a home directory by a shell"},
		{`FOO=bar prog`, `"FOO=" at the start of cmd would set an environment variable in a shell, but cmd is not run by a shell; use the env key`},
		{`_x1=bar`, `"_x1="`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := splitWords(tt.in)
			require.ErrorContains(t, err, tt.msg)
		})
	}
}
