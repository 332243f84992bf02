package sqlite

import (
	"herald/schedule/store"
	"herald/schedule/store/storetest"
	"testing"
)

// TestConformance runs the store's conformance suite on SQLite files in
// t.TempDir().
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		New:  func(t testing.TB) string { return tempDB(t) },
		Open: func(t testing.TB, path string) store.Store { return openTest(t, path) },
	})
}

// BenchmarkClaimRecord is the ledger's cost per message on SQLite.
func BenchmarkClaimRecord(b *testing.B) {
	storetest.BenchClaimRecord(b, storetest.Backend{
		New:  func(t testing.TB) string { return tempDB(t) },
		Open: func(t testing.TB, path string) store.Store { return openTest(t, path) },
	})
}
