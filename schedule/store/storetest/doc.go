// Package storetest is the conformance suite of the store: the behaviour
// every backend of [herald/schedule/store.Store] must show, written once
// against the interface. A backend's tests call [Run] with a [Backend]
// that creates an empty database per test and opens handles on it:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Backend{New: …, Open: …})
//	}
//
// Add a case here (and to the list in storetest.go) for every new store
// method whose meaning does not depend on the backend; keep tests of one
// backend's own mechanics (file locks, query plans, SQL details) in its
// package.
package storetest
