package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"herald/schedule/store"
	"io/fs"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Advisory lock keys (pg_advisory_lock takes one bigint). Distinct
// arbitrary values: "herald" in ASCII, then a number.
const (
	lockMigrate  int64 = 0x68657261_6c640001 // Open's migrations
	lockAnnounce int64 = 0x68657261_6c640002 // Record, Announce, CreateMailings
)

// DB is an open Herald database on PostgreSQL. It is safe for concurrent
// use, also by several processes on several machines.
type DB struct {
	pool *pgxpool.Pool
	loc  string // the URL, for messages (it never holds a password)

	// seeded caches meta 'seeded' once seen: it is never unset.
	seeded atomic.Bool
}

// DB is a store.Store.
var _ store.Store = (*DB)(nil)

// Options are Open's settings beyond the URL.
type Options struct {
	// Password for the database user ("" when the URL's authentication
	// needs none). Never part of the URL.
	Password string
	// MaxConns caps the pool (0: pgxpool's default, at least 4).
	MaxConns int32
}

// Open connects to the PostgreSQL database at rawURL (postgres:// or
// postgresql://) and applies the embedded migrations it lacks, under an
// advisory lock. A database migrated by a newer herald gives
// store.ErrSchemaTooNew. Errors name the URL (never a password).
func Open(ctx context.Context, rawURL string, o Options) (*DB, error) {
	loc := redact(rawURL)
	if !store.IsPostgresURL(rawURL) {
		return nil, fmt.Errorf("store: open %s: not a postgres:// URL", loc)
	}
	migs, err := loadMigrations(migrationFS)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %v", loc, err)
	}
	if o.Password != "" {
		cfg.ConnConfig.Password = o.Password
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "herald"
	// Every time is stored as Unix seconds; the session's zone never matters.
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %v", loc, err)
	}
	db := &DB{pool: pool, loc: loc}
	if err := db.migrate(ctx, migs); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// redact returns rawURL without a password, for messages.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Close closes every connection of the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Location returns the database URL (without a password), for messages.
func (db *DB) Location() string { return db.loc }

// Ping checks that the database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	var n int
	if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		return db.wrap("ping", err)
	}
	return nil
}

// Meta returns the value stored under key, or ErrNotFound.
func (db *DB) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := db.pool.QueryRow(ctx, "SELECT value FROM meta WHERE key = $1", key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("store: meta %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return "", db.wrap("meta "+strconv.Quote(key), err)
	}
	return v, nil
}

// SetMeta stores value under key, replacing any previous value.
func (db *DB) SetMeta(ctx context.Context, key, value string) error {
	_, err := db.pool.Exec(ctx,
		"INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
		key, value)
	if err != nil {
		return db.wrap("set meta "+strconv.Quote(key), err)
	}
	return nil
}

// InitMeta stores value under key unless the key already has a value, and
// returns the stored value: daemons initialising the same key at once all
// get the one that won (the token secret is made this way, so tokens
// verify on every node).
func (db *DB) InitMeta(ctx context.Context, key, value string) (string, error) {
	var v string
	err := db.inTx(ctx, "init meta "+key, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx,
			"INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", key, value); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SELECT value FROM meta WHERE key = $1", key).Scan(&v)
	})
	if err != nil {
		return "", err
	}
	return v, nil
}

// SchemaVersion returns the highest migration applied to the database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := db.pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, db.wrap("schema version", err)
	}
	return v, nil
}

// inTx runs fn in one transaction (READ COMMITTED) and commits it, or
// rolls it back when fn or the commit fails. A deadlock or serialization
// failure (another daemon's transaction crossed this one) runs fn again, up
// to three times.
func (db *DB) inTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	var err error
	for range 3 {
		err = pgx.BeginFunc(ctx, db.pool, fn)
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || (pe.Code != "40P01" && pe.Code != "40001") {
			break
		}
	}
	return db.wrap(op, err)
}

// wrap prefixes err with "store: op" and the database; a lock timeout is
// store.ErrLocked. Errors already prefixed are returned as they are.
func (db *DB) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *stateError
	if errors.As(err, &se) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "55P03" || pe.Code == "57014" && strings.Contains(pe.Message, "lock timeout")) {
		return &stateError{
			msg: fmt.Sprintf("store: %s: database %s: a lock is held by another connection: %v", op, db.loc, err),
			is:  store.ErrLocked, err: err,
		}
	}
	if strings.HasPrefix(err.Error(), "store: ") {
		return err
	}
	return &stateError{msg: fmt.Sprintf("store: %s: %s: %v", op, db.loc, err), err: err}
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
	name    string
	sql     string
}

var migrationName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// loadMigrations reads the migrations from fsys, ordered by version; the
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

// migrate holds a session advisory lock on one connection while it creates
// schema_migrations, refuses a database newer than migs, and applies each
// missing migration in its own transaction with its schema_migrations row.
// A second daemon starting at the same time waits for the lock and then
// finds nothing left to do.
func (db *DB) migrate(ctx context.Context, migs []migration) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return db.wrap("open", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockMigrate); err != nil {
		return db.wrap("open: migration lock", err)
	}
	defer func() {
		// A fresh context: the caller's may be done, and a lock left on a
		// pooled connection would block every later Open.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", lockMigrate); err != nil {
			conn.Conn().Close(uctx) // closing the session releases its locks
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)`); err != nil {
		return db.wrap("open: create schema_migrations", err)
	}
	var current int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return db.wrap("open", err)
	}
	known := migs[len(migs)-1].version
	if current > known {
		return &stateError{
			msg: fmt.Sprintf("store: database %s has schema version %d, this herald knows up to %d: upgrade herald", db.loc, current, known),
			is:  store.ErrSchemaTooNew, err: store.ErrSchemaTooNew,
		}
	}
	for _, m := range migs {
		if m.version <= current {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at)
VALUES ($1, $2, extract(epoch FROM now())::bigint)`, m.version, m.name)
			return err
		})
		if err != nil {
			return db.wrap("migration "+m.name, err)
		}
	}
	return nil
}

// Time conversions: every time column is BIGINT Unix seconds; NULL is the
// zero time.

func unix(t time.Time) int64 { return t.Unix() }

func fromUnix(s int64) time.Time { return time.Unix(s, 0).UTC() }

func fromNullUnix(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return fromUnix(*n)
}
