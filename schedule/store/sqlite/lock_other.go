//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sqlite

import "os"

// tryLock: this platform has no flock; the single-daemon guard is not
// enforced here (the ledger's leases still keep concurrent workers apart).
func tryLock(*os.File) (busy bool, err error) { return false, nil }
