package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/taskmaster/taskmaster/ctlproto"
	pid1 "github.com/taskmaster/taskmaster/init"
	"github.com/taskmaster/taskmaster/jobs/dirwatch"
)

// options are taskmasterd's flags; each has an environment variable that
// sets its default, for container images.
type options struct {
	jobs      string
	listen    string
	http      string
	origins   string
	allow     string
	token     string
	watch     string
	state     string
	grace     time.Duration
	logLevel  string
	logFormat string
	version   bool
	command   []string
	jobsSet   bool // -jobs or TASKMASTER_JOBS was given
	listenSet bool // -listen or TASKMASTER_LISTEN was given
	httpSet   bool // -http or TASKMASTER_HTTP was given
	tokenFlag bool // the token came on the command line
	fleet     fleetOptions
}

const usage = `Usage:
  taskmasterd [flags]                   supervise the jobs of -jobs DIR
  taskmasterd [flags] -- CMD [ARGS...]  run CMD as PID 1 would (like tini), beside the jobs if -jobs is given

Flags (each defaults to the environment variable shown):
`

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("taskmasterd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.jobs, "jobs", env("TASKMASTER_JOBS", "/etc/taskmaster/jobs"), "jobs directory of *.tm.json files (TASKMASTER_JOBS)")
	fs.StringVar(&o.listen, "listen", env("TASKMASTER_LISTEN", "127.0.0.1:7777"), "control protocol address; \"off\" for none (TASKMASTER_LISTEN)")
	fs.StringVar(&o.http, "http", env("TASKMASTER_HTTP", "127.0.0.1:7780"), "HTTP address of the dashboard, the live link (/api/socket), /metrics and /healthz; \"off\" for none (TASKMASTER_HTTP)")
	fs.StringVar(&o.origins, "http-origins", env("TASKMASTER_HTTP_ORIGINS", ""), "comma-separated origins (host patterns) of other sites whose pages may open the live link; without -token, also the names taskmasterd is reached by (TASKMASTER_HTTP_ORIGINS)")
	fs.StringVar(&o.allow, "allow", env("TASKMASTER_ALLOW", ""), "comma-separated CIDRs of control clients allowed; default loopback only (TASKMASTER_ALLOW)")
	fs.StringVar(&o.token, "token", env("TASKMASTER_TOKEN", ""), "shared secret control clients must send (TASKMASTER_TOKEN)")
	fs.StringVar(&o.watch, "watch", env("TASKMASTER_WATCH", "inotify"), "how to notice job file changes: inotify, poll or off (TASKMASTER_WATCH)")
	fs.StringVar(&o.state, "state", env("TASKMASTER_STATE", "/var/lib/taskmaster"), "state directory: records the process groups started, to stop those a SIGKILLed taskmasterd left; \"off\" for none (TASKMASTER_STATE)")
	fs.DurationVar(&o.grace, "grace", envDuration("TASKMASTER_GRACE", 2*time.Second), "at shutdown, time leftover processes get between SIGTERM and SIGKILL (TASKMASTER_GRACE)")
	fs.StringVar(&o.logLevel, "log-level", env("TASKMASTER_LOG_LEVEL", "info"), "debug, info, warn or error (TASKMASTER_LOG_LEVEL)")
	fs.StringVar(&o.logFormat, "log-format", env("TASKMASTER_LOG_FORMAT", "text"), "text or json (TASKMASTER_LOG_FORMAT)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	o.fleet.define(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.command = fs.Args()
	fs.Visit(func(f *flag.Flag) {
		o.jobsSet = o.jobsSet || f.Name == "jobs"
		o.listenSet = o.listenSet || f.Name == "listen"
		o.httpSet = o.httpSet || f.Name == "http"
		o.tokenFlag = o.tokenFlag || f.Name == "token"
	})
	_, jobsEnv := os.LookupEnv("TASKMASTER_JOBS")
	_, listenEnv := os.LookupEnv("TASKMASTER_LISTEN")
	_, httpEnv := os.LookupEnv("TASKMASTER_HTTP")
	o.httpSet = o.httpSet || httpEnv
	o.jobsSet = o.jobsSet || jobsEnv
	o.listenSet = o.listenSet || listenEnv
	return o, nil
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}

func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %q is not debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format: %q is not text or json", format)
}

// config turns the options into what pid1.Run needs.
func (o *options) config(log *slog.Logger) (pid1.Config, error) {
	mode, err := dirwatch.ParseMode(o.watch)
	if err != nil {
		return pid1.Config{}, fmt.Errorf("-watch: %w", err)
	}
	if o.grace < 0 {
		return pid1.Config{}, errors.New("-grace: must not be negative")
	}
	single := len(o.command) > 0
	cfg := pid1.Config{
		JobsDir:  o.jobs,
		LoadJobs: !single || o.jobsSet,
		Watch:    mode,
		Command:  o.command,
		Grace:    o.grace,
		Logger:   log,
	}
	if o.state != "off" {
		cfg.StateDir = o.state
	}
	// A drop-in for tini opens no port unless asked to.
	if o.listen != "off" && (!single || o.listenSet || o.jobsSet) {
		cfg.Control.Listen = o.listen
	}
	if o.http != "off" && (!single || o.httpSet || o.jobsSet) {
		cfg.HTTP.Listen = o.http
	}
	for _, origin := range strings.Split(o.origins, ",") {
		if origin = strings.TrimSpace(origin); origin != "" {
			cfg.HTTP.Origins = append(cfg.HTTP.Origins, origin)
		}
	}
	cfg.Control.Token = o.token
	if cfg.Fleet, err = o.fleet.config(); err != nil {
		return pid1.Config{}, err
	}
	if strings.TrimSpace(o.allow) != "" {
		allow, err := ctlproto.ParseAllow(o.allow)
		if err != nil {
			return pid1.Config{}, fmt.Errorf("-allow: %w", err)
		}
		cfg.Control.Allow = allow
	}
	return cfg, nil
}
