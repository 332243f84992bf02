//go:build race

package sqlite

// raceEnabled: the race detector slows SQLite (pure Go) about 50 times;
// tests that time large batches shrink them.
const raceEnabled = true
