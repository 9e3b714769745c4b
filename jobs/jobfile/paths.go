package jobfile

import (
	"encoding/json"
	"path/filepath"
)

// Special values of stdout and stderr; any other string is a file path.
const (
	outputConsole = "console"
	outputDiscard = "discard"
)

// setWorkingDir decodes workingdir. A relative directory is taken from the
// directory holding the job file, as docker-compose does, so that a job
// directory can be moved or mounted elsewhere as a whole. Whether it exists
// is checked when a process is spawned, since it may be created later.
func setWorkingDir(p *parser, raw json.RawMessage) error {
	dir, err := asString(raw, `a directory path, or "" to keep taskmasterd's`)
	if err != nil || dir == "" {
		p.spec.WorkingDir = ""
		return err
	}
	p.spec.WorkingDir = resolve(p.dir, dir)
	return nil
}

// setStdout decodes stdout.
func setStdout(p *parser, raw json.RawMessage) (err error) {
	p.spec.Stdout, err = p.output(raw)
	return err
}

// setStderr decodes stderr.
func setStderr(p *parser, raw json.RawMessage) (err error) {
	p.spec.Stderr, err = p.output(raw)
	return err
}

// output decodes stdout or stderr. A relative file is taken from the
// working directory when the job has one (where the program itself would
// put it), else from the job file's directory. Keys are applied in table
// order, so workingdir is already known here.
func (p *parser) output(raw json.RawMessage) (Output, error) {
	s, err := asString(raw, `"console", "discard" or a file path`)
	switch {
	case err != nil:
		return Output{}, err
	case s == "" || s == outputConsole:
		return Output{Kind: OutputConsole}, nil
	case s == outputDiscard:
		return Output{Kind: OutputDiscard}, nil
	}
	base := p.dir
	if p.spec.WorkingDir != "" {
		base = p.spec.WorkingDir
	}
	return Output{Kind: OutputFile, Path: resolve(base, s)}, nil
}

// resolve resolves path against base, which is absolute, and cleans it.
func resolve(base, path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(base, path)
}
