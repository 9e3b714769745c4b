package control

import (
	"context"
	"strings"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// signal sends the signal named by data (as a job file's stopsignal names
// one: "HUP", "SIGUSR2", "RTMIN+3", "10") to the process groups of target.
func (h *Handler) signal(ctx context.Context, target string, data []byte) *ctlproto.Response {
	sig, err := jobfile.ParseSignal(strings.TrimSpace(string(data)))
	if err != nil {
		return ctlproto.Failf("signal: %v", err)
	}
	return outcome(h.sup.Signal(ctx, target, sig))
}

// OnShutdown makes the shutdown command call f, which must shut
// taskmasterd down as SIGTERM does and return at once. Without it,
// shutdown is refused. Call it before the handler serves.
func (h *Handler) OnShutdown(f func()) *Handler {
	h.onShutdown = f
	return h
}

// shutdown asks taskmasterd to shut down and answers at once; taskmasterd
// closes the connection as it exits, which is how the client knows that
// it is done.
func (h *Handler) shutdown() *ctlproto.Response {
	if h.onShutdown == nil {
		return ctlproto.Failf("shutdown is not available here")
	}
	h.onShutdown()
	return ctlproto.Success()
}
