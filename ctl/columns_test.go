package ctl

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Columns are as wide as their widest cell in runes, plus two blanks; the
// last cell is not padded, and no line ends in blanks.
func TestWriteColumns(t *testing.T) {
	var b strings.Builder
	writeColumns(&b, [][]string{
		{"NAME", "STATE", "DETAIL"},
		{"café:0", "RUNNING", ""},
		{"x", "", "why"},
	})
	require.Equal(t, "NAME    STATE    DETAIL\n"+
		"café:0  RUNNING\n"+
		"x                why\n", b.String())
}
