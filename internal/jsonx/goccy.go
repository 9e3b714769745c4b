//go:build goccy

package jsonx

import json "github.com/goccy/go-json"

const library = "goccy/go-json"

var (
	marshal   = json.Marshal
	unmarshal = json.Unmarshal
)
