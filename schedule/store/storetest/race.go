//go:build race

package storetest

// raceEnabled: the race detector slows the backends many times; cases that
// time large batches shrink them.
const raceEnabled = true
