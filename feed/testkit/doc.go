// Package testkit holds the helpers Herald's tests share, in one place
// instead of a copy in each package: a settable [Clock] with timers and
// golden files ([Golden], rewritten with -update).
//
// It is for tests only: no production package imports it (feed_test.go
// checks that), and it imports nothing of Herald's, so the tests of every
// package, feed included, may use it.
package testkit
