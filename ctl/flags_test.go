package ctl

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Inside a container, docker exec inherits TASKMASTER_LISTEN: without
// TASKMASTER_ADDR, taskmasterctl finds the daemon there.
func TestDefaultAddressFollowsTheDaemonsListenAddress(t *testing.T) {
	for listen, want := range map[string]string{
		"":               DefaultAddr,
		"off":            DefaultAddr,
		"0.0.0.0:9000":   "127.0.0.1:9000",
		":9000":          "127.0.0.1:9000",
		"[::]:9000":      "[::1]:9000",
		"10.0.0.5:7777":  "10.0.0.5:7777",
		"127.0.0.2:7000": "127.0.0.2:7000",
	} {
		env := map[string]string{"TASKMASTER_LISTEN": listen}
		require.Equal(t, want, defaultOptions(func(k string) string { return env[k] }).addr, "listen %q", listen)
	}
	env := map[string]string{"TASKMASTER_LISTEN": "0.0.0.0:9000", "TASKMASTER_ADDR": "10.1.1.1:7777"}
	require.Equal(t, "10.1.1.1:7777", defaultOptions(func(k string) string { return env[k] }).addr)
}
