package ctlproto

import "errors"

// field is one optional key of a response, in wire order.
type field uint8

const (
	fieldJob field = 1 << iota
	fieldData
	fieldList
	fieldError
)

// kindFields says which keys each kind puts on the wire. The list kind sends
// its payload twice: under "list" as the document's example shows, and under
// "data" where its table (and the original client) look for it.
var kindFields = map[Kind]field{
	KindSuccess:   0,
	KindFail:      fieldError,
	KindInvalid:   0, // "error" only when there is a reason: see fieldsOf
	KindStatus:    fieldData,
	KindRedundant: 0,
	KindFile:      fieldJob | fieldData,
	KindList:      fieldData | fieldList,
	KindAttached:  fieldJob | fieldData,
	KindOutput:    fieldData,
	KindExit:      fieldData,
	KindDetached:  0, // "error" only when there is a reason, as for invalid
}

// fieldsOf is kindFields, plus the reason of an invalid or detached
// response, plus every
// non-empty field of a kind this package does not know.
func fieldsOf(r *Response) field {
	f, ok := kindFields[r.Kind]
	if !ok || r.Kind == KindInvalid || r.Kind == KindDetached {
		f |= nonEmpty(r)
	}
	return f
}

func nonEmpty(r *Response) field {
	var f field
	if r.Job != "" {
		f |= fieldJob
	}
	if len(r.Data) > 0 {
		f |= fieldData
	}
	if r.Error != "" {
		f |= fieldError
	}
	return f
}

// AppendResponse appends the strict wire form of r to dst: no whitespace,
// keys in the order response, job, data, list, error, values in padded
// standard base64, then ";;".
func AppendResponse(dst []byte, r *Response) []byte {
	f := fieldsOf(r)
	dst = append(dst, `{"response":`...)
	dst = appendString(dst, string(r.Kind))
	if f&fieldJob != 0 {
		dst = appendBase64(appendKey(dst, "job"), []byte(r.Job))
	}
	if f&fieldData != 0 {
		dst = appendBase64(appendKey(dst, "data"), r.Data)
	}
	if f&fieldList != 0 {
		dst = appendBase64(appendKey(dst, "list"), r.Data)
	}
	if f&fieldError != 0 {
		dst = appendBase64(appendKey(dst, "error"), []byte(r.Error))
	}
	return append(dst, "};;"...)
}

// DecodeResponse decodes one reply frame (without its ";;"). A list payload
// is read from "data", or from "list" when "data" is absent.
func DecodeResponse(frame []byte) (*Response, error) {
	obj, err := parseObject(frame)
	if err != nil {
		return nil, err
	}
	kind, err := obj.str("response")
	if err != nil {
		return nil, err
	}
	if kind == "" {
		return nil, errors.New("reply has no \"response\"")
	}
	resp := &Response{Kind: Kind(kind)}
	if err := decodeResponseFields(obj, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func decodeResponseFields(obj object, resp *Response) error {
	job, err := obj.bytes("job")
	if err != nil {
		return err
	}
	if resp.Data, err = obj.bytes("data"); err != nil {
		return err
	}
	if resp.Data == nil { // "list" carries the same bytes: read it only alone
		if resp.Data, err = obj.bytes("list"); err != nil {
			return err
		}
	}
	msg, err := obj.bytes("error")
	resp.Job, resp.Error = string(job), string(msg)
	return err
}
