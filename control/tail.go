package control

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// tailRequest is the data of a tail request. Without After, the reply
// holds all the output kept; with Follow, a reply waits (up to TimeoutMS)
// until there is output after After: a long poll, so tail -f needs no
// polling on either side.
type tailRequest struct {
	After     *uint64 `json:"after"`
	Follow    bool    `json:"follow"`
	TimeoutMS int64   `json:"timeout_ms"`
}

// tailReply is the data of a tail reply.
type tailReply struct {
	Output    []byte `json:"output"`    // the bytes (base64 in JSON)
	Next      uint64 `json:"next"`      // the After of the next request
	Truncated bool   `json:"truncated"` // output before After was dropped from the buffer
}

func (h *Handler) tail(ctx context.Context, target string, data []byte) *ctlproto.Response {
	var req tailRequest
	if len(data) > 0 {
		if err := json.Unmarshal(data, &req); err != nil {
			return ctlproto.Failf("tail: data must be JSON like {\"after\":0,\"follow\":true}: %v", err)
		}
	}
	ring, err := h.sup.Output(ctx, target)
	if err != nil {
		return ctlproto.Fail(err)
	}
	var after uint64
	if req.After != nil {
		after = *req.After
	}
	if req.Follow {
		wctx, cancel := context.WithTimeout(ctx, waitFor(req.TimeoutMS))
		err := ring.Wait(wctx, after)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return ctlproto.Fail(err)
		}
	}
	out, next, truncated := ring.Since(after)
	if out == nil {
		out = []byte{} // "output":"", not null: the field is always a base64 string
	}
	reply, err := json.Marshal(tailReply{Output: out, Next: next, Truncated: truncated})
	if err != nil {
		return ctlproto.Fail(err)
	}
	return ctlproto.File(target, reply)
}
