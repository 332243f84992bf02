package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"herald/schedule/store"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// busyTimeout is how long a statement waits for a lock held by another
// connection before failing with ErrLocked.
const busyTimeout = 5 * time.Second

// DB is an open Herald database. It is safe for concurrent use, also by
// several processes on the same file.
type DB struct {
	sql  *sql.DB
	path string      // as given to Open, for messages
	abs  string      // absolute path
	file os.FileInfo // the file opened (Ping checks the path still names it)
	// cleanup, when set, removes the temporary folder of an empty state
	// made by OpenExisting; Close calls it.
	cleanup func()
	// lastReclaim is when reclaimWAL last ran (unix nanoseconds).
	lastReclaim atomic.Int64
	busy        time.Duration

	// seeded caches meta 'seeded' once seen: it is never unset, so a
	// Record with nothing to do costs no query once it is true.
	seeded atomic.Bool
}

// Open opens (creating when missing, with its folder) the database at path
// and applies the embedded migrations it lacks. A database migrated by a
// newer herald gives ErrSchemaTooNew, a file that is not a database
// ErrCorrupt, a database locked by another process for longer than the busy
// timeout ErrLocked; every error names the file.
func Open(ctx context.Context, path string) (*DB, error) {
	return open(ctx, path, busyTimeout)
}

// OpenExisting is Open for the commands that only read. When there is no
// database at path it creates none there (a fresh file beside a deleted
// database would hide the loss, and a later write would go into it): it
// returns an empty state in a temporary folder, removed by Close, and
// fresh = true so that the caller can say there is no database yet.
func OpenExisting(ctx context.Context, path string) (db *DB, fresh bool, err error) {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		db, err := open(ctx, path, busyTimeout)
		return db, false, err
	}
	dir, err := os.MkdirTemp("", "herald-empty-")
	if err != nil {
		return nil, false, fmt.Errorf("store: database %s: empty state: %w", path, err)
	}
	if db, err = open(ctx, filepath.Join(dir, "herald.db"), busyTimeout); err != nil {
		os.RemoveAll(dir)
		return nil, false, err
	}
	db.path = path
	db.cleanup = func() { os.RemoveAll(dir) }
	return db, true, nil
}

// open is Open with a chosen busy timeout (tests use a short one).
func open(ctx context.Context, path string, busy time.Duration) (*DB, error) {
	if path == "" {
		return nil, errors.New("store: open: empty database path")
	}
	migs, err := loadMigrations(migrationFS)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: database %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("store: database %s: create folder: %w", path, err)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("store: database %s: is a directory", path)
	}
	sdb, err := sql.Open("sqlite", dsn(abs, busy))
	if err != nil {
		return nil, fmt.Errorf("store: database %s: %w", path, err)
	}
	db := &DB{sql: sdb, path: path, abs: abs, busy: busy}
	if err := db.migrate(ctx, migs); err != nil {
		sdb.Close()
		return nil, err
	}
	if db.file, err = os.Stat(abs); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("store: database %s: %w", path, err)
	}
	return db, nil
}

// dsn builds the driver's URI for the absolute path abs: WAL, busy timeout,
// foreign keys and synchronous=FULL on every pooled connection, and BEGIN
// IMMEDIATE for transactions (a writer takes the lock up front instead of
// failing on upgrade).
//
// synchronous=FULL: every commit is on disk (the WAL fsynced) before it
// returns, so a delivery recorded as sent stays sent after a power cut
// (with NORMAL the last commits can roll back and be sent again). The
// ledger commits outcomes in groups (one fsync for the sends that finished
// together), which keeps the cost small; BenchmarkRecordOutcomes measures
// it.
func dsn(abs string, busy time.Duration) string {
	// busy_timeout first: pragmas run in order, and switching a new file
	// to WAL takes a lock that a concurrent opener must wait for.
	return "file:" + escapePath(filepath.ToSlash(abs)) +
		"?_pragma=busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(FULL)" +
		"&_txlock=immediate"
}

// escapePath percent-encodes every byte of p that may not appear literally
// in the path of a SQLite URI ('?', '#', '%', spaces, non-ASCII, …).
func escapePath(p string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '/', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// Close closes the database.
func (db *DB) Close() error {
	err := db.sql.Close()
	if db.cleanup != nil {
		db.cleanup()
	}
	if err != nil {
		return fmt.Errorf("store: close %s: %w", db.path, err)
	}
	return nil
}

// Path returns the database file as given to Open.
func (db *DB) Path() string { return db.path }

// Location is Path, for messages (store.Store).
func (db *DB) Location() string { return db.path }

// DB is a store.Store.
var _ store.Store = (*DB)(nil)

// Ping checks that the database answers a query.
//
// It also checks that the database path still names the file this process
// opened (same device and inode): a database deleted or replaced under a
// running daemon gives an error wrapping store.ErrGone, so that /healthz
// fails loudly instead of the daemon writing on into a deleted file.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.checkSameFile(); err != nil {
		return err
	}
	var n int
	if err := db.sql.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		return db.wrap("ping", err)
	}
	return nil
}

// Meta returns the value stored under key, or ErrNotFound.
func (db *DB) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := db.sql.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: meta %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return "", db.wrap("meta "+strconv.Quote(key), err)
	}
	return v, nil
}

// SetMeta stores value under key, replacing any previous value.
func (db *DB) SetMeta(ctx context.Context, key, value string) error {
	_, err := db.sql.ExecContext(ctx,
		"INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
		key, value)
	if err != nil {
		return db.wrap("set meta "+strconv.Quote(key), err)
	}
	return nil
}

// SchemaVersion returns the highest migration applied to the database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := db.sql.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, db.wrap("schema version", err)
	}
	return v, nil
}

// inTx runs fn in one write transaction (BEGIN IMMEDIATE) and commits it,
// or rolls it back when fn or the commit fails.
func (db *DB) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return db.wrap(op, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return db.wrap(op, err)
	}
	if err := tx.Commit(); err != nil {
		_ = tx.Rollback()
		return db.wrap(op, err)
	}
	return nil
}

// execAffected runs one statement and returns how many rows it changed.
func (db *DB) execAffected(ctx context.Context, q string, args ...any) (int64, error) {
	r, err := db.sql.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

// wrap prefixes err with "store: op" and classifies SQLite's busy and
// corruption codes as ErrLocked and ErrCorrupt, naming the file. Errors
// already prefixed (by a nested wrap) are returned as they are.
func (db *DB) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *stateError
	if errors.As(err, &se) {
		return err
	}
	var e *sqlite.Error
	if errors.As(err, &e) {
		switch e.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return &stateError{
				msg: fmt.Sprintf("store: %s: database %s is locked by another process (waited %v): %v", op, db.path, db.busy, err),
				is:  store.ErrLocked, err: err,
			}
		case sqlite3.SQLITE_FULL:
			db.reclaimWAL()
			return &stateError{
				msg: fmt.Sprintf("store: %s: the disk holding %s is full: %v", op, db.path, err),
				is:  store.ErrFull, err: err,
			}
		case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			return &stateError{
				msg: fmt.Sprintf("store: %s: %s is not a valid SQLite database (corrupt, or another kind of file): %v", op, db.path, err),
				is:  store.ErrCorrupt, err: err,
			}
		}
	}
	if strings.HasPrefix(err.Error(), "store: ") {
		return err
	}
	return &stateError{msg: fmt.Sprintf("store: %s: %s: %v", op, db.path, err), err: err}
}

// stateError is an error with a complete message that matches a sentinel
// (is) and unwraps to its cause (err).
type stateError struct {
	msg string
	is  error
	err error
}

func (e *stateError) Error() string { return e.msg }

func (e *stateError) Unwrap() []error {
	if e.is == nil {
		return []error{e.err}
	}
	return []error{e.is, e.err}
}

// Migrations.

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one embedded migrations/NNNN_name.sql file.
type migration struct {
	version int
	name    string // file name without .sql, e.g. "0001_posts"
	sql     string
}

var migrationName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// loadMigrations reads the migrations from fsys, ordered by version. The
// versions must run 1, 2, 3… without gaps or duplicates.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	var migs []migration
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		m := migrationName.FindStringSubmatch(base)
		if m == nil {
			return nil, fmt.Errorf("store: migration %s: name must be NNNN_name.sql (lower case)", n)
		}
		v, _ := strconv.Atoi(m[1])
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("store: migration %s: %w", n, err)
		}
		migs = append(migs, migration{version: v, name: strings.TrimSuffix(base, ".sql"), sql: string(b)})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })
	for i, m := range migs {
		if m.version != i+1 {
			return nil, fmt.Errorf("store: migration %s: version %d, want %d (versions run 1, 2, 3… without gaps or duplicates)", m.name, m.version, i+1)
		}
	}
	if len(migs) == 0 {
		return nil, errors.New("store: no migrations embedded")
	}
	return migs, nil
}

// migrate creates schema_migrations, refuses a database newer than migs, and
// applies each missing migration in its own transaction with its row in
// schema_migrations. Safe against another process migrating at the same
// time: each transaction takes the write lock and re-checks its version.
func (db *DB) migrate(ctx context.Context, migs []migration) error {
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL
) STRICT`
	// Reading first (no write lock) lets a second process open a database
	// whose writer is busy, and recognises a garbage file early.
	//
	// SQLite answers SQLITE_BUSY at once, without the busy handler, to a
	// reader that meets another process switching a new file to WAL or
	// recovering its log: the first steps are retried for the busy timeout.
	var current int
	for deadline := time.Now().Add(db.busy); ; {
		var exists int
		err := db.sql.QueryRowContext(ctx,
			"SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'").Scan(&exists)
		if err != nil {
			err = db.wrap("open", err)
		} else if exists == 0 {
			if _, err2 := db.sql.ExecContext(ctx, create); err2 != nil {
				err = db.wrap("open: create schema_migrations", err2)
			}
		}
		if err == nil {
			current, err = db.SchemaVersion(ctx)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrLocked) || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	known := migs[len(migs)-1].version
	if current > known {
		return &stateError{
			msg: fmt.Sprintf("store: database %s has schema version %d, this herald knows up to %d: upgrade herald", db.path, current, known),
			is:  store.ErrSchemaTooNew, err: store.ErrSchemaTooNew,
		}
	}
	for _, m := range migs {
		if m.version <= current {
			continue
		}
		err := db.inTx(ctx, "migration "+m.name, func(tx *sql.Tx) error {
			var done int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&done); err != nil {
				return err
			}
			if done > 0 {
				return nil // another process applied it meanwhile
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx,
				"INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, unix(time.Now()))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Time conversions: every time column is INTEGER Unix seconds; NULL is the
// zero time.

// unix converts t for storage.
func unix(t time.Time) int64 { return t.Unix() }

// fromUnix converts a stored time back, in UTC.
func fromUnix(s int64) time.Time { return time.Unix(s, 0).UTC() }

// fromNullUnix converts a nullable stored time back: NULL is the zero time.
func fromNullUnix(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromUnix(n.Int64)
}

// checkSameFile reports an error wrapping store.ErrGone when the database
// path no longer names the file opened.
func (db *DB) checkSameFile() error {
	fi, err := os.Stat(db.abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &stateError{
			msg: fmt.Sprintf("store: database %s was deleted while herald had it open: everything written since goes to the deleted file; restore the file or restart herald", db.path),
			is:  store.ErrGone, err: err,
		}
	case err != nil:
		return db.wrap("ping", err)
	case !os.SameFile(fi, db.file):
		return &stateError{
			msg: fmt.Sprintf("store: database %s was replaced by another file while herald had it open; restart herald to use the new one", db.path),
			is:  store.ErrGone,
		}
	}
	return nil
}

// reclaimWAL, after a write failed on a full disk, folds the write-ahead
// log into the database and truncates it (wal_checkpoint(TRUNCATE)) in
// the background, at most every 5 s: a WAL that filled its volume gives
// its space back as soon as the checkpoint can run, instead of never
// shrinking while every write fails.
func (db *DB) reclaimWAL() {
	now := time.Now().UnixNano()
	last := db.lastReclaim.Load()
	if now-last < int64(5*time.Second) || !db.lastReclaim.CompareAndSwap(last, now) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = db.sql.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	}()
}

// Checkpoint folds the write-ahead log into the database file and
// truncates the log to zero bytes (PRAGMA wal_checkpoint(TRUNCATE)).
func (db *DB) Checkpoint(ctx context.Context) error {
	var busy, logged, moved int
	if err := db.sql.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logged, &moved); err != nil {
		return db.wrap("checkpoint", err)
	}
	if busy != 0 {
		return fmt.Errorf("store: checkpoint %s: %w", db.path, store.ErrLocked)
	}
	return nil
}
