package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"herald/schedule/store"
	"herald/schedule/store/storetest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer returns $HERALD_TEST_POSTGRES, a connection string to a
// database on a server where the tests may create and drop databases, or
// skips the test when it is unset.
func testServer(t testing.TB) string {
	t.Helper()
	s := os.Getenv("HERALD_TEST_POSTGRES")
	if s == "" {
		t.Skip("HERALD_TEST_POSTGRES is unset: no PostgreSQL to test against (.ci/run starts one; by hand: export HERALD_TEST_POSTGRES=$(.ci/postgres start /tmp/pg))")
	}
	return s
}

// newDatabase creates an empty database for the test, dropped when it
// ends, and returns its URL.
func newDatabase(t testing.TB) string {
	t.Helper()
	server := testServer(t)
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	name := "herald_test_" + hex.EncodeToString(b)
	loc, err := CreateDatabase(ctx, server, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := DropDatabase(ctx, server, name); err != nil {
			t.Error(err)
		}
	})
	return loc
}

// openTest opens the database at loc, closed when the test ends.
func openTest(t testing.TB, loc string) *DB {
	t.Helper()
	db, err := Open(context.Background(), loc, Options{})
	if err != nil {
		t.Fatalf("open %s: %v", loc, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestConformance runs the store's conformance suite on PostgreSQL, one
// database per case.
func TestConformance(t *testing.T) {
	testServer(t)
	storetest.Run(t, storetest.Backend{
		New:  newDatabase,
		Open: func(t testing.TB, loc string) store.Store { return openTest(t, loc) },
	})
}

func TestOpenMigratesOnceConcurrently(t *testing.T) {
	loc := newDatabase(t)
	const n = 5
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := Open(context.Background(), loc, Options{})
			if err == nil {
				db.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("daemon %d: Open: %v", i, err)
		}
	}
	db := openTest(t, loc)
	migs, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := db.pool.QueryRow(context.Background(), "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(migs) {
		t.Errorf("schema_migrations has %d rows, want %d (one per migration, applied once)", rows, len(migs))
	}
}

func TestOpenSchemaTooNew(t *testing.T) {
	loc := newDatabase(t)
	db := openTest(t, loc)
	if _, err := db.pool.Exec(context.Background(),
		"INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future', 0)"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), loc, Options{})
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("Open on a newer schema = %v, want store.ErrSchemaTooNew", err)
	}
	if !strings.Contains(err.Error(), "999") || !strings.Contains(err.Error(), "upgrade herald") {
		t.Errorf("error %q should name the version and say what to do", err)
	}
}

func TestOpenErrorsNameTheURLWithoutPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres://herald@/nowhere?host=/nonexistent-socket-dir&sslmode=disable", Options{Password: "s3cret"})
	if err == nil {
		t.Fatal("Open on a missing server: no error")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "/nowhere") {
		t.Errorf("error %q does not name the database", err)
	}
	if got := redact("postgres://u:pw@h/db?password=x"); strings.Contains(got, ":pw@") || strings.HasSuffix(got, "password=x") {
		t.Errorf("redact = %q", got)
	}
}

// BenchmarkClaimRecord is the ledger's cost per message on PostgreSQL.
func BenchmarkClaimRecord(b *testing.B) {
	testServer(b)
	storetest.BenchClaimRecord(b, storetest.Backend{
		New:  newDatabase,
		Open: func(t testing.TB, loc string) store.Store { return openTest(t, loc) },
	})
}
