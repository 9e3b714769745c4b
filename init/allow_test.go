package pid1

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// Each listener's allowlist follows its own address: an HTTP listener on
// 0.0.0.0 with a token takes peers from elsewhere even when the control
// port stays on loopback (it used to follow the control port's address,
// and silently closed every such peer).
func TestEffectiveAllowFollowsEachListener(t *testing.T) {
	far := &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 40000}
	near := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 40000}
	for _, tc := range []struct {
		name   string
		c      ControlConfig
		listen string
		farOK  bool
	}{
		{"http beyond loopback, control on loopback, token", ControlConfig{Listen: "127.0.0.1:7777", Token: "t"}, "0.0.0.0:7780", true},
		{"http on loopback, control beyond, token", ControlConfig{Listen: "0.0.0.0:7777", Token: "t"}, "127.0.0.1:7780", false},
		{"no token", ControlConfig{Listen: "0.0.0.0:7777"}, "0.0.0.0:7780", false},
		{"control off, http beyond, token", ControlConfig{Token: "t"}, ":7780", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			allow := effectiveAllow(tc.c, tc.listen)
			require.Equal(t, tc.farOK, ctlproto.PeerAllowed(allow, far))
			require.True(t, ctlproto.PeerAllowed(allow, near))
		})
	}
}
