package ctl

import "strings"

// sgr is an ANSI colour sequence. Every one is exactly five bytes long, so
// that every STATE cell, header included, carries the same invisible
// overhead and writeColumns (which counts runes) still aligns the columns.
type sgr string

const (
	colorHeader sgr = "\x1b[39m" // the default colour: only there for the width
	colorGreen  sgr = "\x1b[32m"
	colorYellow sgr = "\x1b[33m"
	colorRed    sgr = "\x1b[31m"
	colorDim    sgr = "\x1b[90m" // bright black: dim, and five bytes like the rest
	colorReset      = "\x1b[0m"
)

func paint(c sgr, s string) string { return string(c) + s + colorReset }

// stateColor is the colour of a STATE cell: green when running, yellow on
// the way somewhere, red when something is wrong, dim when stopped.
func stateColor(r row) sgr {
	switch r.state {
	case "RUNNING":
		return colorGreen
	case "STARTING", "BACKOFF", "STOPPING":
		return colorYellow
	case "FATAL", "INVALID":
		return colorRed
	case "STOPPED":
		return colorDim
	case "EXITED":
		if unexpectedExit(r) {
			return colorRed
		}
	}
	return colorHeader
}

// unexpectedExit reads the daemon's verdict at the end of the detail
// ("exit status 1, unexpected"); without one, any exit but 0 is unexpected.
func unexpectedExit(r row) bool {
	switch {
	case strings.HasSuffix(r.detail, "unexpected"):
		return true
	case strings.HasSuffix(r.detail, "expected"):
		return false
	}
	return r.exit != "0" && r.exit != "-"
}
