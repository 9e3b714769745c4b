package jobfile

import (
	"encoding/json"
	"sync"
)

// keyDef describes one key a job file may hold. The table below drives the
// unknown-key check, the "did you mean" suggestions, the defaults and the
// JSON Schema, so that none of them can drift from the others.
type keyDef struct {
	name     string // the key as written in files
	aliasOf  string // the canonical key, when this is the original Taskmaster's name for it
	required bool   // Parse fails without it
	schema   obj    // JSON Schema of the value; aliases without one share their canonical key's
	def      any    // default as JSON would write it; nil when absent means something else (see desc)
	desc     string // one line, for the schema and the docs
	hints    []string
	// set decodes the value into p.spec; aliases without one share their
	// canonical key's.
	set func(p *parser, raw json.RawMessage) error
}

// obj is a JSON object under construction.
type obj = map[string]any

// keys returns every key, canonical keys first, in the order they are
// applied: workingdir must come before stdout and stderr, which are
// resolved against it. The table (a thousand small allocations of schema
// fragments) is built on first use, not at start-up: single-command mode
// and a taskmasterd without job files never read a job file.
func keys() []keyDef {
	keysOnce.Do(func() { keyTable = buildKeys() })
	return keyTable
}

var (
	keysOnce sync.Once
	keyTable []keyDef
)

func buildKeys() []keyDef {
	// Schema fragments shared by several keys.
	var (
		umaskSchema = anyOf(
			obj{"type": "string", "pattern": "^((0[oO])?[0-7]+)?$"},
			intRange(0, 777))
		envSchema = anyOf(
			obj{"type": "object", "propertyNames": obj{"pattern": "^[^=]+$"},
				"additionalProperties": obj{"type": "string"}},
			obj{"type": "array", "items": obj{"type": "object", "required": []any{"name", "value"},
				"additionalProperties": false, "properties": obj{
					"name":  obj{"type": "string", "pattern": "^[^=]+$"},
					"value": obj{"type": "string"}}}})
		seconds      = obj{"type": "number", "minimum": 0, "maximum": MaxSeconds}
		signalSchema = anyOf(
			obj{"type": "string", "minLength": 1, "examples": []any{"TERM", "SIGUSR1", "RTMIN+3"}},
			obj{"type": "integer", "minimum": 1, "maximum": sigRTMax, "not": obj{"enum": []any{32, 33}}})
		dependsSchema = obj{"type": "array", "uniqueItems": true,
			"items": obj{"type": "string", "pattern": namePattern, "not": obj{"enum": []any{reservedName}}}}
	)
	return []keyDef{
		{name: "$schema", schema: obj{"type": "string"}, set: setSchemaRef,
			desc: "The JSON Schema of the file, for editors; taskmaster ignores it."},
		{name: "cmd", required: true, schema: cmdSchema(), set: setCmd,
			hints: []string{"command", "program", "exec", "args", "argv", "run"},
			desc:  "The command to run: a command line, split into words like a shell does but with no expansion, or an array of strings."},
		{name: "numprocs", schema: intRange(1, MaxNumProcs), def: 1, set: setNumProcs,
			hints: []string{"processes", "instances", "replicas", "procs"},
			desc:  "How many processes (instances) of the job to keep running."},
		{name: "umask", schema: umaskSchema, set: setUmask,
			desc: `File mode creation mask, octal: "022" or 22. Absent or "" inherits taskmasterd's.`},
		{name: "workingdir", schema: obj{"type": "string"}, def: "", set: setWorkingDir,
			hints: []string{"cwd", "workdir", "directory", "chdir"},
			desc:  `Working directory; a relative one is taken from the job file's directory. "" inherits taskmasterd's.`},
		{name: "env", schema: envSchema, def: obj{}, set: setEnv,
			hints: []string{"environment", "envs", "variables"},
			desc:  "Environment variables, set over taskmasterd's own environment."},
		{name: "autostart", schema: obj{"type": "boolean"}, def: true, set: setAutoStart,
			desc: "Start the job when taskmasterd starts or loads it."},
		{name: "autorestart", schema: obj{"enum": []any{false, true, "false", "true", "unexpected"}}, def: "unexpected",
			set: setAutoRestart, hints: []string{"restartpolicy", "restart_policy"},
			desc: `Restart a process that exits after starttime: false (never), true (always) or "unexpected" (exit code not in exitcodes).`},
		{name: "exitcodes", schema: anyOf(intRange(0, 255), obj{"type": "array", "minItems": 1, "items": intRange(0, 255)}),
			def: []any{0}, set: setExitCodes, hints: []string{"exitcode"},
			desc: "The expected exit codes: one code or a list."},
		{name: "startretries", schema: intRange(0, MaxStartRetries), def: 3, set: setStartRetries,
			hints: []string{"retries"},
			desc:  "How many times in a row a process that fails to start is retried before the job is FATAL."},
		{name: "starttime", schema: seconds, def: 1, set: setStartTime, hints: []string{"startsecs"},
			desc: "Seconds a process must stay up to count as started (fractions allowed)."},
		{name: "stopsignal", schema: signalSchema, def: "TERM", set: setStopSignal,
			hints: []string{"signal", "killsignal"},
			desc:  "The signal sent to each process group to stop it: a name like \"TERM\" or \"SIGUSR1\", or a number."},
		{name: "stoptime", schema: seconds, def: 5, set: setStopTime,
			hints: []string{"stopwaitsecs", "stoptimeout", "timeout"},
			desc:  "Seconds to wait after stopsignal before sending SIGKILL (fractions allowed)."},
		{name: "leftovers", schema: obj{"enum": []any{"stop", "keep"}}, def: "stop", set: setLeftovers,
			hints: []string{"stopasgroup", "killasgroup", "killmode"},
			desc:  `What happens to the rest of a process's group (its background children) when the process ends on its own: "stop" sends them stopsignal, then SIGKILL after stoptime; "keep" leaves them running.`},
		{name: "stdout", schema: obj{"type": "string"}, def: outputConsole, set: setStdout,
			hints: []string{"stdout_logfile", "output", "log"},
			desc:  `Where standard output goes: "console" (or ""), "discard", or a file appended to.`},
		{name: "stderr", schema: obj{"type": "string"}, def: outputConsole, set: setStderr,
			hints: []string{"stderr_logfile"},
			desc:  `Where standard error goes: "console" (or ""), "discard", or a file appended to.`},
		{name: "tty", schema: obj{"type": "boolean"}, def: false, set: setTTY,
			hints: []string{"terminal", "pty", "interactive", "console"},
			desc:  "Run each process on a pseudo-terminal of its own, which taskmasterctl attach can become; its output (stdout and stderr, one stream) goes where stdout says."},
		{name: "user", schema: anyOf(obj{"type": "string"}, intRange(0, maxID)), def: "", set: setUser,
			hints: []string{"uid", "username"},
			desc:  `Run as this user: "NAME", "UID", "UID:GID" or "NAME:GROUP". "" keeps taskmasterd's identity.`},
		{name: "critical", schema: obj{"type": "boolean"}, def: false, set: setCritical,
			desc: "When the job ends for good, taskmasterd shuts down and exits with its exit code."},
		{name: "depends_on", schema: dependsSchema, def: []any{}, set: setDependsOn,
			hints: []string{"depends", "requires", "after", "needs"},
			desc:  "Jobs whose processes must all be RUNNING before this job starts."},
		{name: "forwardsignals", schema: obj{"type": "array", "items": signalSchema}, def: []any{}, set: setForwardSignals,
			hints: []string{"signals", "forward"},
			desc:  "Signals taskmasterd passes on to this job's process groups when it receives them."},
		{name: "ready", schema: checkSchema(forReady), set: setReady,
			hints: []string{"readiness", "readiness_probe", "readinessProbe", "ready_check", "wait_for", "notify"},
			desc:  `How an instance proves it is ready (it is STARTING until then): {"tcp": "host:port"}, {"http": "URL"}, {"exec": command}, {"notify": true} (sd_notify READY=1) or {"notify_fd": N} (a line on fd N), with interval, timeout and deadline. Absent: ready once up for starttime.`},
		{name: "health", schema: checkSchema(forHealth), set: setHealth,
			hints: []string{"healthcheck", "health_check", "liveness", "livenessProbe", "liveness_probe", "check"},
			desc:  `A periodic check of a RUNNING instance: {"tcp": ...}, {"http": ...} or {"exec": ...}, with interval, timeout, retries and on_unhealthy ("restart" or "ignore").`},

		{name: "procNr", aliasOf: "numprocs"},
		{name: "autoStart", aliasOf: "autostart"},
		{name: "restart", aliasOf: "autorestart", schema: obj{"enum": []any{0, 1, 2}}, set: setRestart,
			desc: "Alias of autorestart (original Taskmaster): 0 never, 1 unexpected, 2 always."},
		{name: "startTime", aliasOf: "starttime"},
		{name: "normalExitCode", aliasOf: "exitcodes"},
		{name: "restartTimes", aliasOf: "startretries"},
		{name: "stopSig", aliasOf: "stopsignal"},
		{name: "stopTime", aliasOf: "stoptime"},
		{name: "dir", aliasOf: "workingdir"},
		{name: "runas", aliasOf: "user"},
	}
}

// cmdSchema is the schema of a command: cmd, and the exec of a check.
func cmdSchema() obj {
	return anyOf(
		obj{"type": "string", "minLength": 1},
		obj{"type": "array", "minItems": 1, "items": obj{"type": "string"}})
}

// checkSchema is the schema of ready or health.
func checkSchema(what checkFor) obj {
	props := obj{
		"tcp":      obj{"type": "string", "description": `A TCP connection to this "host:port" succeeds.`, "examples": []any{"127.0.0.1:5432"}},
		"http":     obj{"type": "string", "description": "A GET of this URL answers a status of the range status (2xx by default).", "examples": []any{"http://127.0.0.1:8080/healthz"}},
		"exec":     anyOf(cmdSchema(), obj{"description": "This command, run with the job's env, user and working directory, exits 0."}),
		"status":   anyOf(intRange(100, 599), obj{"type": "array", "minItems": 2, "maxItems": 2, "items": intRange(100, 599)}),
		"interval": obj{"type": "number", "minimum": MinCheckInterval, "maximum": MaxSeconds, "description": "Seconds between the starts of two checks."},
		"timeout":  obj{"type": "number", "exclusiveMinimum": 0, "maximum": MaxSeconds, "default": DefaultCheckTimeout, "description": "Seconds one check may take."},
	}
	kinds := []any{"tcp", "http", "exec"}
	if what == forReady {
		props["interval"].(obj)["default"] = DefaultReadyInterval
		props["notify"] = obj{"const": true, "description": "The process sends READY=1 to $NOTIFY_SOCKET (systemd's sd_notify)."}
		props["notify_fd"] = obj{"type": "integer", "minimum": 3, "maximum": MaxNotifyFD, "description": "The process writes a line to this file descriptor (s6's notification-fd)."}
		props["deadline"] = obj{"type": "number", "minimum": 0, "maximum": MaxSeconds, "default": DefaultReadyDeadline, "description": "Seconds an instance may take to be ready before it counts as failed to start; 0: no limit."}
		props["watchdog_sec"] = obj{"type": "number", "minimum": MinCheckInterval, "maximum": MaxSeconds, "description": "With notify: once ready, the process sends WATCHDOG=1 at least this often, or is restarted."}
		kinds = append(kinds, "notify", "notify_fd")
	} else {
		props["interval"].(obj)["default"] = DefaultHealthInterval
		props["retries"] = obj{"type": "integer", "minimum": 1, "maximum": MaxCheckRetries, "default": DefaultHealthRetries, "description": "Failed checks in a row that make an instance unhealthy."}
		props["on_unhealthy"] = obj{"enum": []any{"restart", "ignore"}, "default": "restart", "description": "restart: stop the process and start it again; ignore: only report it."}
	}
	var oneOf []any
	for _, k := range kinds {
		oneOf = append(oneOf, obj{"required": []any{k}})
	}
	return obj{"type": "object", "additionalProperties": false, "properties": props, "oneOf": oneOf}
}

// intRange is the schema of an integer from lo to hi.
func intRange(lo, hi int64) obj {
	return obj{"type": "integer", "minimum": lo, "maximum": hi}
}

// anyOf is the schema of a value matching any of schemas.
func anyOf(schemas ...obj) obj {
	return obj{"anyOf": schemas}
}

// lookupKey returns the definition of a key as written, or nil.
func lookupKey(name string) *keyDef {
	keys := keys()
	for i := range keys {
		if keys[i].name == name {
			return &keys[i]
		}
	}
	return nil
}

// canonical returns the definition of the key k stands for.
func (k *keyDef) canonical() *keyDef {
	if k.aliasOf == "" {
		return k
	}
	return lookupKey(k.aliasOf)
}

// setter returns the function that decodes k's value.
func (k *keyDef) setter() func(p *parser, raw json.RawMessage) error {
	if k.set != nil {
		return k.set
	}
	return k.canonical().set
}
