package sqlite

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// ErrDaemonRunning: another process holds the daemon lock of the database
// (LockDaemon).
var ErrDaemonRunning = errors.New("another herald run is using this database")

// DaemonLock makes one `herald run` the only daemon on a SQLite database:
// an exclusive OS lock (flock) on the file "<database>.lock" beside it.
// The kernel releases it when the process ends, however it ends (SIGKILL
// included), so a stale lock file never blocks a restart. `herald send`
// and the other commands do not take it and keep working beside the daemon:
// the ledger's leases keep them apart.
type DaemonLock struct {
	f    *os.File
	path string
}

// LockDaemon takes the daemon lock of the database at path without
// waiting. When another process holds it, the error wraps ErrDaemonRunning
// and names that process (its pid, which the holder writes into the lock
// file) and the lock file. The folder is created when missing, as Open
// does.
func LockDaemon(path string) (*DaemonLock, error) {
	if path == "" {
		return nil, errors.New("store: lock: empty database path")
	}
	lp := path + ".lock"
	if err := os.MkdirAll(filepath.Dir(lp), 0o750); err != nil {
		return nil, fmt.Errorf("store: lock %s: create folder: %w", lp, err)
	}
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("store: lock %s: %w", lp, err)
	}
	busy, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: lock %s: %w", lp, err)
	}
	if busy {
		holder := "another process"
		if b, err := os.ReadFile(lp); err == nil {
			if pid, err := strconv.Atoi(string(bytes.TrimSpace(b))); err == nil && pid > 0 {
				holder = "process " + strconv.Itoa(pid)
			}
		}
		f.Close()
		return nil, fmt.Errorf("store: %s: %w (%s holds %s); stop it first: one daemon per SQLite database (herald send and the other commands work beside it)",
			path, ErrDaemonRunning, holder, lp)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0) // informative only
	}
	return &DaemonLock{f: f, path: lp}, nil
}

// Path is the lock file.
func (l *DaemonLock) Path() string { return l.path }

// Release releases the lock (closing the file releases the flock). The
// lock file stays: removing it would let a process that opened it just
// before lock a file no longer in the folder.
func (l *DaemonLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("store: release %s: %w", l.path, err)
	}
	return nil
}
