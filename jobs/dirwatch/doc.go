// Package dirwatch tells taskmasterd when to reload its job directory.
//
// It watches one directory of job files (*.tm.json) and sends a notification
// on Watcher.C when a file that matters changes. It never reads job files:
// it only says "look again". A reload that finds nothing new is harmless; a
// missed change is not, so when in doubt (an inotify queue overflow, the
// directory vanishing) the watcher notifies.
//
// # What triggers a notification
//
// Only relevant names count:
//
//   - names ending in ".tm.json" that do not start with a dot; dot-prefixed
//     names are temporary files of atomic writes (".web.tm.json.tmp-123") or
//     editor lock files, and are not jobs;
//   - names starting with "..": a Kubernetes ConfigMap volume holds its files
//     in a "..2026_…" directory, points the "..data" symlink at it, and
//     swaps versions by renaming a "..data_tmp" symlink onto "..data". The
//     job files themselves are symlinks ("web.tm.json -> ..data/web.tm.json")
//     that never change, so the swap is the only visible event.
//
// Any create, delete, rename onto or away from, write, close after writing,
// or attribute change of a relevant name triggers. An atomic write (write
// ".x.tm.json.tmp", rename it to "x.tm.json") therefore triggers once, on the
// rename, and never sees the half-written file.
//
// # Debounce and coalescing
//
// Events are debounced: a notification is sent Options.Debounce after the
// last event of a burst, but never later than Options.MaxDelay after its
// first event, so a file rewritten without pause still reloads. C has room
// for one value and sends never block: a slow consumer finds one pending
// notification that stands for every change since it last received.
//
// No notification is sent when watching starts: call New first and load the
// jobs afterwards, so that any change after the load is notified.
//
// # Modes
//
// Inotify (the default) uses no timer and no polling while nothing happens:
// an idle taskmasterd does not wake up. Poll is for filesystems that give no
// inotify events (some network and FUSE mounts): it compares a snapshot of
// the relevant names (size, mtime, inode, and for symlinks the identity of
// the target) every Options.PollInterval. Off never notifies.
//
// # A missing or vanishing directory
//
// If the directory does not exist when watching starts, the nearest existing
// ancestor is watched until the directory appears; then a notification is
// sent and the directory itself is watched. If the watched directory is
// deleted or moved away, a notification is sent and the watcher goes back
// to waiting for it to appear. A path that exists but is not a directory is
// treated as missing. Poll mode notices the same transitions by comparing
// snapshots.
//
// # Limits of inotify mode
//
// inotify watches inodes, not paths. The watcher does not notice that an
// ancestor of the directory was renamed (it keeps watching the moved
// directory), nor a change of a symlink's target outside the directory.
// Use Poll where that matters.
package dirwatch
