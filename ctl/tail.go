package ctl

import (
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// followPoll is how long one follow request may wait for output. The
// daemon answers as soon as there is some (a long poll), so it only bounds
// how often an idle "tail -f" sends a request.
const followPoll = 30 * time.Second

// tailRequest is the data of the tail extension.
type tailRequest struct {
	After     *uint64 `json:"after,omitempty"`
	Follow    bool    `json:"follow,omitempty"`
	TimeoutMS int64   `json:"timeout_ms,omitempty"`
}

// tailReply is the data of a tail reply.
type tailReply struct {
	Output    []byte `json:"output"` // base64 in the JSON
	Next      uint64 `json:"next"`
	Truncated bool   `json:"truncated"` // output before After was dropped
}

func setupTail(fs *flag.FlagSet) runFunc {
	var follow bool
	fs.BoolVar(&follow, "f", false, "keep following the output")
	fs.BoolVar(&follow, "follow", false, "keep following the output")
	return func(s *session, args []string) int { return s.tail(args[0], follow) }
}

// tail prints all the output the daemon kept for target and, when following,
// then asks for what comes after, one long poll at a time, until an error
// or an interrupt.
func (s *session) tail(target string, follow bool) int {
	reply, code := s.tailOnce(target, nil)
	for follow && code == ExitOK {
		next := reply.Next
		reply, code = s.tailOnce(target, &tailRequest{After: &next, Follow: true, TimeoutMS: followPoll.Milliseconds()})
	}
	return code
}

// tailOnce sends one tail request (req nil: everything kept) and prints the
// output it gets.
func (s *session) tailOnce(target string, req *tailRequest) (tailReply, int) {
	var data []byte
	var wait time.Duration
	if req != nil {
		data, _ = json.Marshal(req)
		wait = followPoll
	}
	resp, err := s.do(ctlproto.CmdTail, target, data, wait)
	if err != nil {
		return tailReply{}, s.failed(err)
	}
	if resp.Kind != ctlproto.KindFile {
		return tailReply{}, s.refused(target, resp)
	}
	var reply tailReply
	if err := json.Unmarshal(resp.Data, &reply); err != nil {
		fmt.Fprintf(s.errw, "taskmasterctl: %s: bad tail reply from taskmasterd: %v\n", target, err)
		return tailReply{}, ExitFail
	}
	s.showTail(target, req != nil, resp.Data, reply)
	return reply, ExitOK
}

func (s *session) showTail(target string, following bool, raw []byte, reply tailReply) {
	if s.opts.json {
		if !following || len(reply.Output) > 0 { // an empty poll is no news
			fmt.Fprintf(s.out, "%s\n", raw)
		}
		return
	}
	if following && reply.Truncated {
		// The first reply is truncated whenever the buffer ever wrapped; only
		// a later one means output came faster than we read it.
		fmt.Fprintf(s.errw, "taskmasterctl: %s: some output was lost (taskmasterd keeps only recent output)\n", target)
	}
	s.out.Write(reply.Output)
}
