package jobfile

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in   string
		want syscall.Signal
	}{
		{"TERM", syscall.SIGTERM},
		{"SIGTERM", syscall.SIGTERM},
		{"sigterm", syscall.SIGTERM},
		{"usr1", syscall.SIGUSR1},
		{"Hup", syscall.SIGHUP},
		{"KILL", syscall.SIGKILL},
		{"WINCH", syscall.SIGWINCH},
		{"SYS", syscall.SIGSYS},
		{"15", syscall.SIGTERM},
		{"1", syscall.SIGHUP},
		{"31", syscall.Signal(31)},
		{"34", syscall.Signal(34)},
		{"64", syscall.Signal(64)},
		{"RTMIN", syscall.Signal(34)},
		{"SIGRTMIN", syscall.Signal(34)},
		{"rtmin+3", syscall.Signal(37)},
		{"RTMIN+30", syscall.Signal(64)},
		{"RTMAX", syscall.Signal(64)},
		{"SIGRTMAX-2", syscall.Signal(62)},
		{"RTMAX-30", syscall.Signal(34)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSignal(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseSignalErrors(t *testing.T) {
	for _, in := range []string{"", "SIG", "FOO", "SIGFOO", "0", "32", "33", "65", "-1", "RTMIN+31", "RTMAX-31",
		"RTMIN-1", "RTMAX+1", "RTMIN+", "RTMIN+x", "RTMIN3", " TERM", "TERM ", "SIGSIGTERM"} {
		t.Run(in, func(t *testing.T) {
			_, err := ParseSignal(in)
			require.ErrorContains(t, err, "unknown signal "+quoteShort(in)+` (expected a name like "TERM"`)
		})
	}
}

func TestSignalName(t *testing.T) {
	tests := []struct {
		sig  syscall.Signal
		want string
	}{
		{syscall.SIGTERM, "SIGTERM"},
		{syscall.SIGKILL, "SIGKILL"},
		{34, "SIGRTMIN"},
		{37, "SIGRTMIN+3"},
		{63, "SIGRTMIN+29"},
		{64, "SIGRTMAX"},
		{32, "signal 32"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, SignalName(tt.sig))
	}
	// Every valid signal's name reads back as itself.
	for n := 1; n <= 64; n++ {
		if !validSignal(n) {
			continue
		}
		got, err := ParseSignal(SignalName(syscall.Signal(n)))
		require.NoError(t, err)
		require.Equal(t, syscall.Signal(n), got)
	}
}

func TestForwardSignalsReserved(t *testing.T) {
	for sig := range reserved {
		_, err := Parse(testPath, []byte(`{"cmd": "x", "forwardsignals": ["`+SignalName(sig)+`"]}`))
		require.ErrorContains(t, err, SignalName(sig)+" cannot be forwarded: "+reserved[sig])
	}
}
