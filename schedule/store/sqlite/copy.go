package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"herald/schedule/store"
	"slices"
	"strings"
	"time"
)

// The SQLite side of `herald state copy` (store.CopyState).

// DB is a store.Copier.
var _ store.Copier = (*DB)(nil)

// ReadState calls fn with a reader of one consistent snapshot of the
// database. The transaction is a write transaction (BEGIN IMMEDIATE) that
// writes nothing: while the copy runs, no other process (a `herald send`,
// a CLI command) can commit to the source, so nothing can be written after
// the snapshot and be missing from the copy; such a writer waits and then
// fails with "database is locked".
func (db *DB) ReadState(ctx context.Context, fn func(store.StateReader) error) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return db.wrap("copy: read", err)
	}
	defer tx.Rollback() //nolint:errcheck // writes nothing
	return db.wrap("copy: read", fn(&copyTx{db: db, tx: tx}))
}

// WriteState calls fn with a writer in one transaction (BEGIN IMMEDIATE:
// no other writer meanwhile), committed when fn returns nil. Foreign keys
// are checked at the commit.
func (db *DB) WriteState(ctx context.Context, fn func(store.StateWriter) error) error {
	return db.inTx(ctx, "copy: write", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "PRAGMA defer_foreign_keys = ON"); err != nil {
			return err
		}
		return fn(&copyTx{db: db, tx: tx})
	})
}

// copyTx is the reader and the writer of a copy on one transaction.
type copyTx struct {
	db     *DB
	tx     *sql.Tx
	tables store.Columns
}

// quote quotes an identifier (table and column names come from the
// database's own schema, never from input).
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

func (c *copyTx) Tables(ctx context.Context) (store.Columns, error) {
	if c.tables != nil {
		return c.tables, nil
	}
	rows, err := c.tx.QueryContext(ctx, `
SELECT m.name, p.name FROM sqlite_schema m, pragma_table_info(m.name) p
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
ORDER BY m.name, p.cid`)
	if err != nil {
		return nil, fmt.Errorf("tables: %w", err)
	}
	defer rows.Close()
	out := store.Columns{}
	for rows.Next() {
		var t, col string
		if err := rows.Scan(&t, &col); err != nil {
			return nil, fmt.Errorf("tables: %w", err)
		}
		if !slices.Contains(store.NotCopied, t) {
			out[t] = append(out[t], col)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tables: %w", err)
	}
	c.tables = out
	return out, nil
}

// table checks that t is a table of the state (names reach SQL text).
func (c *copyTx) table(ctx context.Context, t string) error {
	tables, err := c.Tables(ctx)
	if err != nil {
		return err
	}
	if _, ok := tables[t]; !ok {
		return fmt.Errorf("no table %q", t)
	}
	return nil
}

func (c *copyTx) Count(ctx context.Context, table string) (int64, error) {
	if err := c.table(ctx, table); err != nil {
		return 0, err
	}
	var n int64
	if err := c.tx.QueryRowContext(ctx, "SELECT count(*) FROM "+quote(table)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}

// Rows reads table in primary key order.
func (c *copyTx) Rows(ctx context.Context, table string, cols []string, fn func(row []any) error) error {
	if err := c.table(ctx, table); err != nil {
		return err
	}
	q := make([]string, len(cols))
	for i, col := range cols {
		q[i] = quote(col)
	}
	order, err := c.primaryKey(ctx, table)
	if err != nil {
		return err
	}
	rows, err := c.tx.QueryContext(ctx, "SELECT "+strings.Join(q, ", ")+" FROM "+quote(table)+" ORDER BY "+order)
	if err != nil {
		return fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		row := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("read %s: %w", table, err)
		}
		for i, v := range row {
			switch x := v.(type) {
			case nil, int64, string, []byte:
			case float64:
				return fmt.Errorf("read %s: column %s holds a real number (%v)", table, cols[i], x)
			default:
				return fmt.Errorf("read %s: column %s holds a %T", table, cols[i], v)
			}
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", table, err)
	}
	return nil
}

// primaryKey returns the ORDER BY list of table's primary key ("rowid"
// when it has none).
func (c *copyTx) primaryKey(ctx context.Context, table string) (string, error) {
	rows, err := c.tx.QueryContext(ctx, "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", table)
	if err != nil {
		return "", fmt.Errorf("primary key of %s: %w", table, err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return "", fmt.Errorf("primary key of %s: %w", table, err)
		}
		cols = append(cols, quote(n))
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("primary key of %s: %w", table, err)
	}
	if len(cols) == 0 {
		return "rowid", nil
	}
	return strings.Join(cols, ", "), nil
}

// autoincrement reports whether table's id is AUTOINCREMENT (its high
// water mark is kept in sqlite_sequence; the other tables reuse max + 1).
func (c *copyTx) autoincrement(ctx context.Context, table string) bool {
	var s string
	if err := c.tx.QueryRowContext(ctx, "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?", table).Scan(&s); err != nil {
		return false
	}
	return strings.Contains(strings.ToUpper(s), "AUTOINCREMENT")
}

func (c *copyTx) HighWater(ctx context.Context, table string) (int64, error) {
	if err := c.table(ctx, table); err != nil {
		return 0, err
	}
	if !c.autoincrement(ctx, table) {
		return 0, nil
	}
	var n sql.NullInt64
	err := c.tx.QueryRowContext(ctx, "SELECT max(seq) FROM sqlite_sequence WHERE name = ?", table).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("high water of %s: %w", table, err)
	}
	return n.Int64, nil
}

func (c *copyTx) LiveMembers(ctx context.Context, since time.Time) (int, error) {
	var n int
	if err := c.tx.QueryRowContext(ctx, "SELECT count(*) FROM members WHERE seen_at >= ?", unix(since)).Scan(&n); err != nil {
		return 0, fmt.Errorf("members: %w", err)
	}
	return n, nil
}

// Clear deletes every row of the state, children first.
func (c *copyTx) Clear(ctx context.Context) error {
	tables, err := c.Tables(ctx)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(tables)+1)
	for t := range tables {
		names = append(names, t)
	}
	names = append(names, "members")
	slices.Sort(names) // deferred foreign keys: the order does not matter
	for _, t := range names {
		if _, err := c.tx.ExecContext(ctx, "DELETE FROM "+quote(t)); err != nil {
			return fmt.Errorf("clear %s: %w", t, err)
		}
	}
	return nil
}

func (c *copyTx) Insert(ctx context.Context, table string, cols []string, rows [][]any) error {
	if err := c.table(ctx, table); err != nil {
		return err
	}
	q := make([]string, len(cols))
	for i, col := range cols {
		q[i] = quote(col)
	}
	st, err := c.tx.PrepareContext(ctx, "INSERT INTO "+quote(table)+" ("+strings.Join(q, ", ")+
		") VALUES ("+strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")+")")
	if err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	defer st.Close()
	for _, row := range rows {
		if _, err := st.ExecContext(ctx, row...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	return nil
}

func (c *copyTx) SetHighWater(ctx context.Context, table string, id int64) error {
	if err := c.table(ctx, table); err != nil {
		return err
	}
	if !c.autoincrement(ctx, table) {
		return nil // ids are max + 1: the rows copied keep them above the source's
	}
	// Inserting explicit ids already raised sqlite_sequence to the largest.
	if _, err := c.tx.ExecContext(ctx, `
INSERT INTO sqlite_sequence (name, seq) SELECT ?1, ?2
WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?1)`, table, id); err != nil {
		return fmt.Errorf("high water of %s: %w", table, err)
	}
	if _, err := c.tx.ExecContext(ctx, "UPDATE sqlite_sequence SET seq = max(seq, ?2) WHERE name = ?1", table, id); err != nil {
		return fmt.Errorf("high water of %s: %w", table, err)
	}
	return nil
}
