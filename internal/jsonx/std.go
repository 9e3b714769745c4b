//go:build !goccy

package jsonx

import "encoding/json"

const library = "encoding/json"

var (
	marshal   = json.Marshal
	unmarshal = json.Unmarshal
)
