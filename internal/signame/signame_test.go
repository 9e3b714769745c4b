package signame

import (
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every signal a job can be sent is named, and the name reads back as
// the same signal, as does its number; 32, 33 and those out of range are
// refused with what is accepted.
func TestNameParseRoundTrip(t *testing.T) {
	for n := 1; n <= 64; n++ {
		sig := syscall.Signal(n)
		if !Valid(n) {
			_, err := Parse(Name(sig))
			require.Error(t, err, "signal %d", n)
			continue
		}
		got, err := Parse(Name(sig))
		require.NoError(t, err, Name(sig))
		require.Equal(t, sig, got, Name(sig))
		got, err = Parse(Name(sig)[3:]) // without SIG
		require.NoError(t, err)
		require.Equal(t, sig, got)
	}
	for _, in := range []string{"hup", "SigTerm", "RTMAX-2", "rtmin+3", "10"} {
		_, err := Parse(in)
		require.NoError(t, err, in)
	}
	for _, in := range []string{"FOO", "0", "32", "65", "RTMIN+31", "RTMAX+1", "", "SIG"} {
		_, err := Parse(in)
		require.ErrorContains(t, err, "unknown signal", in)
		require.ErrorContains(t, err, Syntax, in)
	}
	require.Equal(t, "SIGRTMIN+3", Name(37))
	_, err := Parse(strings.Repeat("X", 100))
	require.ErrorContains(t, err, `unknown signal "`+strings.Repeat("X", 40)+`"... (`, "a long input is cut in the message")
}
