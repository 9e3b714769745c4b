package pid1

import "net/netip"

// ControlConfig configures the control server.
type ControlConfig struct {
	Listen string         // TCP address; "" for no control server
	Allow  []netip.Prefix // peers allowed; empty means loopback only
	Token  string         // shared secret every request must carry; "" for none
}

type controlServer struct{}

func (d *daemon) startControl() error { return nil }

func (d *daemon) stopControl() {}
