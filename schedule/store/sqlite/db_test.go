package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"herald/schedule/store"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// openTest opens a database at path with a short busy timeout and closes it
// at the end of the test.
func openTest(t testing.TB, path string) *DB {
	t.Helper()
	return openTestBusy(t, path, 2*time.Second)
}

// openTestBusy opens with a chosen busy timeout: lock tests want a short one.
func openTestBusy(t testing.TB, path string, busy time.Duration) *DB {
	t.Helper()
	db, err := open(context.Background(), path, busy)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// tempDB returns a path for a new database, in a folder that does not exist yet.
func tempDB(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "var", "lib", "herald.db")
}

// rawDB opens path with the driver directly, bypassing Open, as another
// program (or a hand-run sqlite3) would. Its pool has one connection so that
// a BEGIN stays on it.
func rawDB(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	t.Cleanup(func() { raw.Close() })
	return raw
}

func TestConfig(t *testing.T) {
	if got, want := store.Default().Database, "var/herald.db"; got != want {
		t.Errorf("Default().Database = %q, want %q", got, want)
	}
	tests := []struct {
		in      string
		wantErr string
	}{
		{"var/herald.db", ""},
		{" /var/lib/herald/herald.db ", ""},
		{"", "state.database: must not be empty"},
		{"  ", "state.database: must not be empty"},
		{":memory:", `state.database: must be a file path or a postgres:// URL, got ":memory:"`},
		{"file:x.db?mode=ro", `state.database: must be a file path`},
		{"a\x00b", "state.database: must not contain a NUL byte"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			c := store.Config{Database: tt.in}
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestOpenCreatesAndMigrates(t *testing.T) {
	ctx := context.Background()
	path := tempDB(t)
	db := openTest(t, path)

	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatalf("folder not created: %v", err)
	}
	if perm := fi.Mode().Perm(); perm&0o027 != 0 {
		t.Errorf("folder mode %v: group write or other access", perm)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	migs, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := migs[len(migs)-1].version; got != want {
		t.Errorf("SchemaVersion = %d, want %d", got, want)
	}

	var mode string
	if err := db.sql.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	var fk int
	if err := db.sql.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if fk != 1 {
		t.Errorf("foreign_keys = %d, want 1", fk)
	}
}

// schemaRows lists schema_migrations.
func schemaRows(t *testing.T, db *DB) []string {
	t.Helper()
	rows, err := db.sql.Query("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var (
			v       int
			name    string
			applied int64
		)
		if err := rows.Scan(&v, &name, &applied); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d %s %d", v, name, applied))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOpenIdempotent(t *testing.T) {
	ctx := context.Background()
	path := tempDB(t)
	db := openTest(t, path)
	first := schemaRows(t, db)
	if len(first) == 0 || !strings.HasPrefix(first[0], "1 0001_posts ") {
		t.Fatalf("schema_migrations = %q, want 0001_posts first", first)
	}
	if err := db.SetMeta(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for i := range 3 {
		db := openTest(t, path)
		if got := schemaRows(t, db); strings.Join(got, "\n") != strings.Join(first, "\n") {
			t.Errorf("reopen %d: schema_migrations = %q, want %q", i, got, first)
		}
		if v, err := db.Meta(ctx, "k"); err != nil || v != "v" {
			t.Errorf("reopen %d: Meta = %q, %v; want v", i, v, err)
		}
		db.Close()
	}
}

func TestOpenSchemaTooNew(t *testing.T) {
	path := tempDB(t)
	db := openTest(t, path)
	if _, err := db.sql.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)", len(mustMigrations(t))+1); err != nil {
		t.Fatal(err)
	}
	db.Close()

	known := len(mustMigrations(t))
	_, err := Open(context.Background(), path)
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want store.ErrSchemaTooNew", err)
	}
	want := fmt.Sprintf("store: database %s has schema version %d, this herald knows up to %d: upgrade herald", path, known+1, known)
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
}

func mustMigrations(t *testing.T) []migration {
	t.Helper()
	migs, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	return migs
}

func TestOpenCorrupt(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
	}{
		{"text", []byte("title = \"not a database\"\n")},
		{"garbage", []byte(strings.Repeat("\x8f\x00garbage\xff", 1000))},
		{"damaged header", append([]byte("SQLite format 3\x00"), []byte(strings.Repeat("\xff", 4096))...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "herald.db")
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			db, err := open(context.Background(), path, 100*time.Millisecond)
			if err == nil {
				db.Close()
				t.Fatal("Open of a garbage file succeeded")
			}
			if !errors.Is(err, store.ErrCorrupt) {
				t.Errorf("Open = %v, want store.ErrCorrupt", err)
			}
			if !strings.HasPrefix(err.Error(), "store: ") || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not start with state: and name %s", err, path)
			}
			got, _ := os.ReadFile(path)
			if string(got) != string(tt.content) {
				t.Error("Open modified the garbage file")
			}
		})
	}
}

func TestOpenDirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Open(directory) = %v, want an error naming it", err)
	}
}

func TestOpenPathEscaping(t *testing.T) {
	// Characters that mean something in a URI must reach the file system as they are.
	path := filepath.Join(t.TempDir(), "a dir?x=1#frag", "100% ü.db")
	db := openTest(t, path)
	if err := db.SetMeta(context.Background(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at %s: %v", path, err)
	}
}

// holdExclusive opens path outside package state and holds BEGIN EXCLUSIVE
// with a pending write until the test ends.
func holdExclusive(t *testing.T, dsn string) {
	t.Helper()
	raw := rawDB(t, dsn)
	ctx := context.Background()
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.ExecContext(ctx, "ROLLBACK")
		conn.Close()
	})
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatalf("BEGIN EXCLUSIVE: %v", err)
	}
	if _, err := conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS lock_holder (x)"); err != nil {
		t.Fatal(err)
	}
}

func TestLocked(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

	t.Run("writer busy in WAL mode", func(t *testing.T) {
		path := tempDB(t)
		openTest(t, path).Close() // create and migrate
		holdExclusive(t, "file:"+path+"?_pragma=busy_timeout(100)")

		// Readers still work in WAL mode: `herald status` while the daemon writes.
		db := openTestBusy(t, path, 200*time.Millisecond)
		if _, err := db.Posts(ctx); err != nil {
			t.Fatalf("Posts while another connection writes: %v", err)
		}
		start := time.Now()
		_, err := db.Record(ctx, now, []store.SeenPost{{ID: "a", Path: "a.md", Date: now, Due: true}}, false)
		if !errors.Is(err, store.ErrLocked) {
			t.Fatalf("Record = %v, want store.ErrLocked", err)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("Record took %v with a 200ms busy timeout", el)
		}
		for _, want := range []string{"store: record: ", path, "locked"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
		if err := db.SetMeta(ctx, "k", "v"); !errors.Is(err, store.ErrLocked) {
			t.Errorf("SetMeta = %v, want store.ErrLocked", err)
		}
	})

	t.Run("exclusive lock in rollback mode", func(t *testing.T) {
		// A database left in rollback-journal mode (e.g. by a hand-run
		// sqlite3) whose holder keeps an exclusive lock: Open must give
		// up after the busy timeout, with a clear error.
		path := filepath.Join(t.TempDir(), "herald.db")
		holdExclusive(t, "file:"+path+"?_pragma=journal_mode(DELETE)&_pragma=busy_timeout(100)")

		start := time.Now()
		db, err := open(ctx, path, 200*time.Millisecond)
		if err == nil {
			db.Close()
			t.Fatal("Open of an exclusively locked database succeeded")
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("Open took %v with a 200ms busy timeout", el)
		}
		if !errors.Is(err, store.ErrLocked) {
			t.Errorf("Open = %v, want store.ErrLocked", err)
		}
		if !strings.HasPrefix(err.Error(), "store: ") || !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not start with state: and name %s", err, path)
		}
	})
}

func TestConcurrentHandles(t *testing.T) {
	ctx := context.Background()
	path := tempDB(t)
	// Two handles, as the daemon and `herald subscribers add` would have;
	// the default busy timeout, as in production.
	a, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	if _, err := a.Record(ctx, now.Add(-2*time.Hour), nil, false); err != nil { // first run
		t.Fatal(err)
	}

	// Both handles write at the same time; each post announced once in all.
	posts := makePosts(50, now.Add(-time.Hour), true)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
		errs  []error
	)
	for i, db := range []*DB{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range posts {
				res, err := db.Record(ctx, now, posts[j:j+1], false)
				if err == nil {
					err = db.SetMeta(ctx, fmt.Sprintf("writer%d", i), fmt.Sprint(j))
				}
				mu.Lock()
				total += len(res.Announced)
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent writes: %d errors, first: %v", len(errs), errs[0])
	}
	if total != len(posts) {
		t.Errorf("announced %d in all, want %d", total, len(posts))
	}

	// Each handle sees the other's writes.
	list, err := b.Announcements(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(posts) {
		t.Errorf("b sees %d announcements, want %d", len(list), len(posts))
	}
	if err := b.SetMeta(ctx, "from-b", "hello"); err != nil {
		t.Fatal(err)
	}
	if v, err := a.Meta(ctx, "from-b"); err != nil || v != "hello" {
		t.Errorf("a.Meta(from-b) = %q, %v; want hello", v, err)
	}
}

func TestLoadMigrations(t *testing.T) {
	migs := mustMigrations(t)
	if migs[0].name != "0001_posts" || migs[0].version != 1 {
		t.Errorf("first migration = %d %s, want 1 0001_posts", migs[0].version, migs[0].name)
	}

	sqlFile := &fstest.MapFile{Data: []byte("CREATE TABLE x (y);")}
	tests := []struct {
		name    string
		files   []string
		wantErr string
	}{
		{"ordered", []string{"0002_mail.sql", "0001_posts.sql"}, ""},
		{"gap", []string{"0001_posts.sql", "0003_x.sql"}, "version 3, want 2"},
		{"duplicate", []string{"0001_posts.sql", "0001_again.sql"}, "want 2"},
		{"bad name", []string{"0001_posts.sql", "2_mail.sql"}, "name must be NNNN_name.sql"},
		{"none", nil, "no migrations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tt.files {
				fsys["migrations/"+f] = sqlFile
			}
			got, err := loadMigrations(fsys)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 2 || got[0].version != 1 || got[1].name != "0002_mail" {
					t.Errorf("got %+v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("loadMigrations = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestMigrationRollsBack(t *testing.T) {
	// A failing migration leaves neither its tables nor its row behind.
	ctx := context.Background()
	path := tempDB(t)
	openTest(t, path).Close()
	db := openTest(t, path)
	migs := append(mustMigrations(t), migration{
		version: len(mustMigrations(t)) + 1, name: "9999_broken",
		sql: "CREATE TABLE half (x); INSERT INTO nonexistent VALUES (1);",
	})
	err := db.migrate(ctx, migs)
	if err == nil || !strings.Contains(err.Error(), "migration 9999_broken") {
		t.Fatalf("migrate = %v, want an error naming the migration", err)
	}
	var n int
	if err := db.sql.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'half'").Scan(&n); err != nil || n != 0 {
		t.Errorf("table of the failed migration exists (n=%d, err=%v)", n, err)
	}
	if v, _ := db.SchemaVersion(ctx); v != len(migs)-1 {
		t.Errorf("SchemaVersion = %d, want %d", v, len(migs)-1)
	}
}

func TestConcurrentFirstOpen(t *testing.T) {
	// The daemon and `herald status` started at once on a new database:
	// both open it, each migration is applied once.
	path := tempDB(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := Open(context.Background(), path)
			if err == nil {
				err = db.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
	db := openTest(t, path)
	if got, want := len(schemaRows(t, db)), len(mustMigrations(t)); got != want {
		t.Errorf("%d schema_migrations rows, want %d", got, want)
	}
}

// A database deleted or replaced under the process that has it open fails
// Ping (the daemon's /healthz) with ErrGone, instead of the process
// writing on into a deleted file.
func TestPingDetectsDeletedOrReplacedDatabase(t *testing.T) {
	ctx := context.Background()
	path := tempDB(t)
	db := openTest(t, path)
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping = %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	err := db.Ping(ctx)
	if !errors.Is(err, store.ErrGone) || !strings.Contains(err.Error(), "deleted") || !strings.Contains(err.Error(), path) {
		t.Errorf("Ping after delete = %v, want ErrGone naming the file", err)
	}
	other := openTest(t, path) // a fresh database at the same path
	if err := other.Ping(ctx); err != nil {
		t.Fatalf("Ping of the new file = %v", err)
	}
	if err := db.Ping(ctx); !errors.Is(err, store.ErrGone) || !strings.Contains(err.Error(), "replaced") {
		t.Errorf("Ping after replace = %v, want ErrGone (replaced)", err)
	}
}

// Issue 8, item 10: every connection commits with synchronous=FULL, so a
// delivery recorded as sent survives a power cut.
func TestSynchronousFull(t *testing.T) {
	db := openTest(t, tempDB(t))
	for range 3 { // several pooled connections
		var mode int
		if err := db.sql.QueryRowContext(context.Background(), "PRAGMA synchronous").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode != 2 {
			t.Errorf("synchronous = %d, want 2 (FULL)", mode)
		}
	}
}

// A copy's read of the source keeps every other writer out until it ends:
// a write committed after the copy's snapshot would be missing from the
// target.
func TestReadStateKeepsWritersOut(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other, err := sql.Open("sqlite", dsn(path, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	err = db.ReadState(ctx, func(store.StateReader) error {
		if _, err := other.ExecContext(ctx, "CREATE TABLE written_during_copy (x)"); err == nil {
			t.Error("another connection committed a write while the copy read the source: it would be missing from the copy")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.ExecContext(ctx, "CREATE TABLE written_after_copy (x)"); err != nil {
		t.Errorf("a write after the copy's read: %v", err)
	}
}
