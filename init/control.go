package pid1

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// ControlConfig configures the control server.
type ControlConfig struct {
	Listen string         // TCP address; "" for no control server
	Allow  []netip.Prefix // peers allowed; empty means loopback only, or anyone with the token
	Token  string         // shared secret every request must carry; "" for none
}

// controlServer is the running control server.
type controlServer struct {
	srv  *ctlproto.Server
	done chan struct{}
}

// startControl listens on the control address and serves it.
func (d *daemon) startControl() error {
	c := d.cfg.Control
	if c.Listen == "" {
		return nil
	}
	if err := ctlproto.CheckListen(c.Listen, c.Allow, c.Token); err != nil {
		return err
	}
	allow := effectiveAllow(c, c.Listen)
	l, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("control server: %w", err)
	}
	d.ctl = &controlServer{
		srv: &ctlproto.Server{
			Handler:    d.ops(),
			Allow:      allow,
			Token:      c.Token,
			LocalUsers: localUsers(c.Token),
			Logger:     d.log,
		},
		done: make(chan struct{}),
	}
	d.log.Info("control server listening", "addr", l.Addr().String(), "token", c.Token != "")
	go func() {
		defer close(d.ctl.done)
		_ = d.ctl.srv.Serve(l)
	}()
	return nil
}

// stopControl closes the control server, giving requests in flight a
// moment to be answered.
func (d *daemon) stopControl() {
	if d.ctl == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = d.ctl.srv.Shutdown(ctx)
	<-d.ctl.done
}

// effectiveAllow is the allowlist of the listener on listen (the control
// port's, or the HTTP listener's: each decides by its own address): -allow,
// or, when it is not given, loopback only, unless a token guards a
// listener beyond loopback: then any peer that knows the token may talk.
func effectiveAllow(c ControlConfig, listen string) []netip.Prefix {
	if len(c.Allow) == 0 && c.Token != "" && !loopbackOnly(listen) {
		return []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	}
	return c.Allow
}

// localUsers are the users whose local processes may control taskmasterd:
// root and taskmasterd's own user. Anyone who can push a job file runs
// programs as taskmasterd's user, so a job that runs as nobody must not be
// able to. With a token, the token decides instead.
func localUsers(token string) []uint32 {
	if token != "" {
		return nil
	}
	return []uint32{0, uint32(os.Geteuid())}
}

// loopbackOnly reports whether addr listens on loopback addresses only.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
