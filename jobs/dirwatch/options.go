package dirwatch

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Mode says how the directory is watched.
type Mode string

// The watch modes, as written on the command line (-watch).
const (
	Inotify Mode = "inotify" // kernel events, no wakeups while idle (default)
	Poll    Mode = "poll"    // snapshot comparison every Options.PollInterval
	Off     Mode = "off"     // never notify
)

// The defaults used for zero Options fields.
const (
	DefaultDebounce     = 100 * time.Millisecond
	DefaultMaxDelay     = time.Second
	DefaultPollInterval = 2 * time.Second
)

// ParseMode returns the Mode named s, one of "inotify", "poll" and "off".
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Inotify, Poll, Off:
		return m, nil
	}
	return "", fmt.Errorf("unknown watch mode %q (want inotify, poll or off)", s)
}

// Options configure a Watcher. Zero fields take their defaults.
type Options struct {
	Mode         Mode          // default Inotify
	Debounce     time.Duration // quiet time after the last event of a burst; default DefaultDebounce
	MaxDelay     time.Duration // longest wait after the first event of a burst; default DefaultMaxDelay
	PollInterval time.Duration // time between snapshots in Poll mode; default DefaultPollInterval
	Logger       *slog.Logger  // default: discard
}

// withDefaults returns opt with zero fields filled in, or an error naming
// the first invalid field.
func (opt Options) withDefaults() (Options, error) {
	if opt.Mode == "" {
		opt.Mode = Inotify
	}
	if _, err := ParseMode(string(opt.Mode)); err != nil {
		return opt, err
	}
	if opt.Debounce < 0 || opt.MaxDelay < 0 || opt.PollInterval < 0 {
		return opt, errors.New("negative Debounce, MaxDelay or PollInterval")
	}
	opt.Debounce = orDefault(opt.Debounce, DefaultDebounce)
	opt.MaxDelay = orDefault(opt.MaxDelay, DefaultMaxDelay)
	opt.PollInterval = orDefault(opt.PollInterval, DefaultPollInterval)
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return opt, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
