package ctlproto

// DecodeRequest decodes one frame (a message without its ";;") into a
// request and validates it. Any error is a *RequestError.
func DecodeRequest(frame []byte) (*Request, error) {
	req, err := parseRequest(frame)
	if err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	return req, nil
}

// parseRequest decodes a frame without checking the command, so that the
// server can check the token first.
func parseRequest(frame []byte) (*Request, error) {
	obj, err := parseObject(frame)
	if err != nil {
		return nil, err
	}
	cmd, err := commandOf(obj)
	if err != nil {
		return nil, err
	}
	req := &Request{Command: Command(cmd)}
	if req.Job, err = jobOf(obj); err != nil {
		return nil, err
	}
	if req.Data, err = obj.bytes("data"); err != nil {
		return nil, err
	}
	if req.Token, err = obj.str("token"); err != nil {
		return nil, err
	}
	return req, nil
}

// commandOf reads "command", or "cmd" as the original taskmasterctl sends it.
func commandOf(obj object) (string, error) {
	cmd, err := obj.str("command")
	if err != nil {
		return "", err
	}
	alias, err := obj.str("cmd")
	if err != nil {
		return "", err
	}
	if cmd != "" && alias != "" && cmd != alias {
		return "", invalidf(`"command" %q and "cmd" %q differ`, cmd, alias)
	}
	if cmd == "" {
		cmd = alias
	}
	return cmd, nil
}

func jobOf(obj object) (string, error) {
	b, err := obj.bytes("job")
	return string(b), err
}

// AppendRequest appends the wire form of r to dst: command, job and data are
// always present (empty when unused), as the original client sends them, and
// token only when set.
func AppendRequest(dst []byte, r *Request) []byte {
	dst = append(dst, `{"command":`...)
	dst = appendString(dst, string(r.Command))
	dst = append(dst, `,"job":`...)
	dst = appendBase64(dst, []byte(r.Job))
	dst = append(dst, `,"data":`...)
	dst = appendBase64(dst, r.Data)
	if r.Token != "" {
		dst = append(dst, `,"token":`...)
		dst = appendString(dst, r.Token)
	}
	return append(dst, "};;"...)
}
