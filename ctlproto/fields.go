package ctlproto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
)

// object is a decoded JSON object whose values are still raw. Decoding into
// a map rather than a struct keeps key matching exact: encoding/json would
// otherwise also accept "Command" or "JOB".
type object map[string]json.RawMessage

// parseObject decodes a frame holding one JSON object (or null, which reads
// as an empty one). A key given twice is refused, whatever the key: a map
// would keep the last value silently, and {"command":"list",
// "command":"kill"} must not read as a kill that a filter in front saw as a
// list. Keys are compared after unescaping, so "comm\u0061nd" is "command".
func parseObject(frame []byte) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(frame))
	tok, err := dec.Token()
	if err != nil {
		return nil, malformed(err)
	}
	var obj object
	var dup string
	switch tok {
	case nil: // null
	case json.Delim('{'):
		if obj, dup, err = members(dec); err != nil {
			return nil, err
		}
	default:
		return nil, invalidf("malformed JSON: a request is an object {...}, got %s", describeToken(tok))
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("more data after the request object")
		}
		return nil, malformed(err)
	}
	if dup != "" {
		return nil, invalidf("duplicate key %q", dup)
	}
	return obj, nil
}

// members reads the members of an object whose opening brace dec has
// consumed, and its closing brace. dup is the first key given twice, if
// any; it is reported once the whole frame is known to be JSON.
func members(dec *json.Decoder) (obj object, dup string, err error) {
	obj = object{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, "", malformed(err)
		}
		key := tok.(string) // dec.Token checks that a key comes here
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, "", malformed(err)
		}
		if _, seen := obj[key]; seen && dup == "" {
			dup = key
		}
		obj[key] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, "", malformed(err)
	}
	return obj, dup, nil
}

func malformed(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return invalidf("malformed JSON: %v", err)
}

// describeToken names a JSON value that is not an object, for an error.
func describeToken(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "a number"
}

// str returns the string under key; a missing key or null reads as "".
func (o object) str(key string) (string, error) {
	raw, ok := o[key]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	if plain, ok := plainString(raw); ok {
		return string(plain), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", invalidf("%q is not a string", key)
	}
	return s, nil
}

// bytes returns the base64-decoded string under key, nil when it is missing
// or empty.
func (o object) bytes(key string) ([]byte, error) {
	var b []byte
	var err error
	if plain, ok := plainString(o[key]); ok {
		b, err = decodeBase64(plain) // no string between: a status is tens of KiB
	} else {
		var s string
		if s, err = o.str(key); err != nil || s == "" {
			return nil, err
		}
		b, err = decodeBase64([]byte(s))
	}
	if err != nil {
		return nil, invalidf("%q is not base64: %v", key, err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	return b, nil
}

// plainString returns what is between the quotes of raw when raw is a
// JSON string whose value is those very bytes: printable ASCII with no
// quote and no backslash, as base64 and most names are. Only a string
// with escapes (the original client writes "\/" for "/") or other
// characters needs encoding/json's decoding, and its copy.
func plainString(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return nil, false
		}
	}
	return inner, true
}

// decodeBase64 accepts the standard alphabet with or without padding.
func decodeBase64(src []byte) ([]byte, error) {
	enc := base64.StdEncoding
	if len(src)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	dst := make([]byte, enc.DecodedLen(len(src)))
	n, err := enc.Decode(dst, src)
	return dst[:n], err
}

// appendBase64 appends b as a quoted, padded, standard base64 JSON string.
func appendBase64(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

// appendString appends s as a JSON string. Marshalling a string never fails.
func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

// appendKey appends `,"key":` (without the comma for the first key).
func appendKey(dst []byte, key string) []byte {
	if dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}
