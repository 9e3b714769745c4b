package ctlproto

import (
	"encoding/base64"
	"encoding/json"
)

// object is a decoded JSON object whose values are still raw. Decoding into
// a map rather than a struct keeps key matching exact: encoding/json would
// otherwise also accept "Command" or "JOB".
type object map[string]json.RawMessage

func parseObject(frame []byte) (object, error) {
	var obj object
	if err := json.Unmarshal(frame, &obj); err != nil {
		return nil, invalidf("malformed JSON: %v", err)
	}
	return obj, nil
}

// str returns the string under key; a missing key or null reads as "".
func (o object) str(key string) (string, error) {
	raw, ok := o[key]
	if !ok || string(raw) == "null" {
		return "", nil
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
	s, err := o.str(key)
	if err != nil || s == "" {
		return nil, err
	}
	b, err := decodeBase64(s)
	if err != nil {
		return nil, invalidf("%q is not base64: %v", key, err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	return b, nil
}

// decodeBase64 accepts the standard alphabet with or without padding.
func decodeBase64(s string) ([]byte, error) {
	if len(s)%4 != 0 {
		return base64.RawStdEncoding.DecodeString(s)
	}
	return base64.StdEncoding.DecodeString(s)
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
