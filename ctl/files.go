package ctl

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// jobFileSuffix ends the name of every job file: NAME.tm.json.
const jobFileSuffix = ".tm.json"

var pushWords = words{ctlproto.CmdPush, "pushed", "unchanged"}

// runPull prints a job file's exact bytes, or writes them to FILE.
func runPull(s *session, args []string) int {
	job := args[0]
	resp, err := s.do(ctlproto.CmdPull, job, nil, 0)
	if err != nil {
		return s.failed(err)
	}
	if resp.Kind != ctlproto.KindFile {
		return s.refused(job, resp)
	}
	if len(args) == 1 {
		s.out.Write(resp.Data)
		return ExitOK
	}
	path := args[1]
	if err := writeFileAtomic(path, resp.Data, 0o644); err != nil {
		fmt.Fprintf(s.errw, "taskmasterctl: %s: %v\n", job, err)
		return ExitFail
	}
	if s.opts.json {
		return s.printJSON(result{Job: job, Response: string(resp.Kind), File: path})
	}
	fmt.Fprintf(s.out, "%s: pulled to %s\n", job, path)
	return ExitOK
}

// runPush uploads FILE as the job file of JOB, or of the job its name
// (NAME.tm.json) gives.
func runPush(s *session, args []string) int {
	file := args[0]
	job, err := pushName(args)
	if err != nil {
		return s.usageError("push", err)
	}
	data, err := s.readInput(file)
	if err == nil && len(data) == 0 {
		err = fmt.Errorf("%s is empty", file)
	}
	if err != nil {
		fmt.Fprintf(s.errw, "taskmasterctl: %s: %v\n", job, err)
		return ExitFail
	}
	resp, err := s.do(ctlproto.CmdPush, job, data, 0)
	if err != nil {
		return s.failed(err)
	}
	return s.outcome(job, resp, pushWords)
}

// pushName is the JOB argument of push, or the NAME of a FILE named
// NAME.tm.json. The daemon checks that the name is valid.
func pushName(args []string) (string, error) {
	if len(args) > 1 {
		return args[1], nil
	}
	file := args[0]
	if file == "-" {
		return "", errors.New("push - (standard input) needs the job name: taskmasterctl push - JOB")
	}
	base := filepath.Base(file)
	name, ok := strings.CutSuffix(base, jobFileSuffix)
	if !ok || name == "" || strings.HasPrefix(base, ".") {
		return "", fmt.Errorf("cannot tell the job name from %q, which is not NAME%s: give it, as in taskmasterctl push %s JOB",
			base, jobFileSuffix, file)
	}
	return name, nil
}

// readInput reads a file, or standard input for "-".
func (s *session) readInput(file string) ([]byte, error) {
	if file == "-" {
		return io.ReadAll(s.in)
	}
	return os.ReadFile(file)
}

// usageError reports a bad argument found by a command itself.
func (s *session) usageError(name string, err error) int {
	cmd, _ := lookup(name)
	fmt.Fprintf(s.errw, "taskmasterctl: %v\nusage: %s\n", err, cmd.synopsis())
	return ExitUsage
}

// writeFileAtomic replaces path with data so that a reader, or a crash,
// sees the old file or the new one and never half of one: a temporary file
// in the same directory, synced, then renamed over path.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
