// Package version holds the version string stamped into the binaries at link
// time (make build sets it from git describe).
package version

// Version is the release this binary was built from; "dev" when unstamped.
var Version = "dev"
