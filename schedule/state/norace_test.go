//go:build !race

package state

// raceEnabled: see race_test.go.
const raceEnabled = false
