package jobs

import "errors"

// ErrProgramNotFound is wrapped by start errors for a program that does not
// exist.
var ErrProgramNotFound = errors.New("program not found")

// spawnErrorCode maps a failure to start a program to the exit code a shell
// would report: 127 when the program does not exist, 126 when it exists but
// cannot be run (or its working directory, user or output cannot be set up).
func spawnErrorCode(err error) int {
	if errors.Is(err, ErrProgramNotFound) {
		return 127
	}
	return 126
}
