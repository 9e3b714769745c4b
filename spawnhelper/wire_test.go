package spawnhelper

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRequestCrossesTheSocketUnchanged(t *testing.T) {
	req := &request{
		argv0: "/bin/sh", argv: []string{"sh", "-c", "echo ü; exit 3", ""},
		env: []string{"A=1", "B="}, dir: "/tmp",
		files: []int32{0, 1, 1, -1, 2},
		sys: sysAttr{setsid: true, setctty: true, ctty: 0, pgid: 7,
			cred: &syscall.Credential{Uid: 1000, Gid: 100, Groups: []uint32{4, 24, 65534}}},
	}
	got, err := decode(req.encode())
	require.NoError(t, err)
	require.Equal(t, req, got)

	plain := &request{argv0: "/bin/true", argv: []string{"true"}, env: []string{}, files: []int32{}, sys: sysAttr{setpgid: true}}
	got, err = decode(plain.encode())
	require.NoError(t, err)
	require.Equal(t, plain, got)
}

// A request cut short anywhere, or with bytes after its end, is refused,
// and no length in it allocates more than the request holds.
func TestMalformedRequestsAreRefused(t *testing.T) {
	msg := (&request{argv0: "/bin/sh", argv: []string{"sh"}, env: []string{"A=1"}, files: []int32{0, -1},
		sys: sysAttr{cred: &syscall.Credential{Groups: []uint32{1}}}}).encode()
	for n := range len(msg) {
		_, err := decode(msg[:n])
		require.ErrorIs(t, err, errMalformed, "the first %d bytes", n)
	}
	_, err := decode(append(msg, 0))
	require.ErrorIs(t, err, errMalformed)
	_, err = decode([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	require.ErrorIs(t, err, errMalformed)
}

func TestOnlyTheCarriedAttributesUseTheHelper(t *testing.T) {
	_, ok := encodable(&syscall.SysProcAttr{Setpgid: true, Credential: &syscall.Credential{Uid: 1}})
	require.True(t, ok)
	_, ok = encodable(nil)
	require.True(t, ok)
	for _, sys := range []*syscall.SysProcAttr{
		{Setpgid: true, Foreground: true}, // tcsetpgrp needs taskmasterd's session's terminal: single-command mode
		{Pdeathsig: syscall.SIGKILL},
		{Cloneflags: syscall.CLONE_NEWPID},
		{Chroot: "/srv"},
	} {
		_, ok := encodable(sys)
		require.False(t, ok, "%+v", sys)
	}
}
