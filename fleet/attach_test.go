package fleet

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// An attach to an agent's job is refused by the manager, with the way to
// do it, and never forwarded: a session is a stream both ways, which the
// fleet link does not carry. (No Manager is needed to refuse it.)
func TestRouterRefusesRemoteAttach(t *testing.T) {
	local := ctlproto.HandlerFunc(func(context.Context, *ctlproto.Request) *ctlproto.Response {
		t.Fatal("reached the local handler")
		return nil
	})
	r := &Router{Local: local}
	resp := r.ServeCtl(context.Background(), &ctlproto.Request{Command: ctlproto.CmdAttach, Job: "web-1/console"})
	require.Equal(t, ctlproto.KindFail, resp.Kind)
	require.Equal(t, "attach web-1/console: a session does not travel over the fleet link: attach through the agent's own control port", resp.Error)
}

// An agent refuses an attach that reaches it over the fleet link all the
// same: the session its control handler would open could not be carried,
// and would be left attached. A signal, which is a plain command, goes
// through.
func TestAgentRefusesAttachOverTheLink(t *testing.T) {
	m := startManager(t, rule("a", "s"))
	w := newWorld(t, map[string]string{"nginx": webJob})
	runAgent(t, m.newAgent("a", "s", w))
	m.untilState(t, "a", StateConnected)
	resp, err := m.Do(context.Background(), "a", &ctlproto.Request{Command: ctlproto.CmdAttach, Job: "nginx:0"}, nil)
	require.NoError(t, err)
	require.Equal(t, ctlproto.KindFail, resp.Kind)
	require.Contains(t, resp.Error, "a session does not travel over the fleet link")

	r := &Router{Local: newWorld(t, nil).ops, Manager: m.Manager}
	resp = r.ServeCtl(context.Background(), &ctlproto.Request{Command: ctlproto.CmdSignal, Job: "a/nginx", Data: []byte("HUP")})
	require.Equal(t, ctlproto.KindSuccess, resp.Kind, resp.Error)
}
