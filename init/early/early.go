// Package early starts catching every signal (sigcatch.CatchAll) while the
// program's packages are still being initialised: only taskmasterd's main
// package imports it, for that side effect.
//
// The init starts a goroutine that does it, so that the catch overlaps the
// other packages' initialisation (which runs on the main thread) rather
// than following it, and signals are caught sooner: this package needs
// only os/signal and sigcatch, so it initialises before the heavier
// packages (net/http, the Prometheus client, protobuf) do. Most signals
// cost one system call to catch (sigcatch.Handle); the few that go
// through os/signal cost a round trip each to the runtime's signal-mask
// goroutine, which is locked to its thread, and a goroutine that is not
// locked to a thread, as the main goroutine is during initialisation,
// halves the thread switches of each.
//
// The umask helper (package reexec), which is taskmasterd too but only
// execs its job's program, catches nothing: its job starts as soon as it
// can, and a signal sent to it still acts as it would on the program. Nor
// does the spawn helper (package spawnhelper), which only forks.
package early

import (
	"github.com/taskmaster/taskmaster/reexec"
	"github.com/taskmaster/taskmaster/sigcatch"
)

var (
	done    = make(chan struct{}) // closed when the catch is complete
	started bool                  // whether init started the catch
	caught  *sigcatch.Caught
	err     error
)

func init() {
	if reexec.Helper() || reexec.SpawnHelper() {
		return
	}
	started = true
	go func() {
		caught, err = sigcatch.CatchAll()
		close(done)
	}()
}

// Signals waits until every signal is caught and returns the channels
// they arrive on; the error says which could not be caught (see
// sigcatch.CatchAll).
func Signals() (*sigcatch.Caught, error) {
	if !started { // the umask helper, which never gets here
		return sigcatch.CatchAll()
	}
	<-done
	return caught, err
}
