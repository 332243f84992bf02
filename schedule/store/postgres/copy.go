package postgres

import (
	"context"
	"fmt"
	"herald/schedule/store"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The PostgreSQL side of `herald state copy` (store.CopyState).

// DB is a store.Copier.
var _ store.Copier = (*DB)(nil)

// ReadState calls fn with a reader of one consistent snapshot (a
// REPEATABLE READ, READ ONLY transaction).
func (db *DB) ReadState(ctx context.Context, fn func(store.StateReader) error) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return db.wrap("copy: read", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	return db.wrap("copy: read", fn(&copyTx{tx: tx}))
}

// WriteState calls fn with a writer in one transaction, committed when fn
// returns nil. It holds the announcing lock meanwhile, so a daemon
// starting during the copy announces nothing before the copy is
// committed (and then finds the posts announced).
func (db *DB) WriteState(ctx context.Context, fn func(store.StateWriter) error) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// A lock held elsewhere (a daemon, or FROM naming this same
		// database) fails the copy instead of blocking it for ever.
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '30s'"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockAnnounce); err != nil {
			return err
		}
		return fn(&copyTx{tx: tx})
	})
	return db.wrap("copy: write", err)
}

// copyTx is the reader and the writer of a copy on one transaction.
type copyTx struct {
	tx     pgx.Tx
	tables store.Columns
	types  map[string]map[string]string // table → column → data_type
}

func (c *copyTx) Tables(ctx context.Context) (store.Columns, error) {
	if c.tables != nil {
		return c.tables, nil
	}
	rows, err := c.tx.Query(ctx, `
SELECT c.table_name::text, c.column_name::text, c.data_type::text
FROM information_schema.columns c
JOIN information_schema.tables t
  ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
WHERE c.table_schema = current_schema()
ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		return nil, fmt.Errorf("tables: %w", err)
	}
	defer rows.Close()
	out := store.Columns{}
	types := map[string]map[string]string{}
	for rows.Next() {
		var t, col, typ string
		if err := rows.Scan(&t, &col, &typ); err != nil {
			return nil, fmt.Errorf("tables: %w", err)
		}
		if slices.Contains(store.NotCopied, t) {
			continue
		}
		out[t] = append(out[t], col)
		if types[t] == nil {
			types[t] = map[string]string{}
		}
		types[t][col] = typ
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tables: %w", err)
	}
	c.tables, c.types = out, types
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
	if err := c.tx.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}

// Rows reads table in primary key order, each value in the neutral form
// (integers as int64, a boolean as 0 or 1).
func (c *copyTx) Rows(ctx context.Context, table string, cols []string, fn func(row []any) error) error {
	if err := c.table(ctx, table); err != nil {
		return err
	}
	var order []string
	err := c.tx.QueryRow(ctx, `
SELECT coalesce(array_agg(quote_ident(a.attname::text) ORDER BY array_position(i.indkey::int2[], a.attnum)), '{}')
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
WHERE i.indrelid = $1::regclass AND i.indisprimary`, pgx.Identifier{table}.Sanitize()).Scan(&order)
	if err != nil {
		return fmt.Errorf("primary key of %s: %w", table, err)
	}
	q := make([]string, len(cols))
	for i, col := range cols {
		q[i] = pgx.Identifier{col}.Sanitize()
	}
	if len(order) == 0 {
		order = q
	}
	rows, err := c.tx.Query(ctx, "SELECT "+strings.Join(q, ", ")+" FROM "+pgx.Identifier{table}.Sanitize()+" ORDER BY "+strings.Join(order, ", "))
	if err != nil {
		return fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		row, err := rows.Values()
		if err != nil {
			return fmt.Errorf("read %s: %w", table, err)
		}
		for i, v := range row {
			switch x := v.(type) {
			case nil, int64, string, []byte:
			case int32:
				row[i] = int64(x)
			case int16:
				row[i] = int64(x)
			case bool:
				row[i] = int64(0)
				if x {
					row[i] = int64(1)
				}
			default:
				return fmt.Errorf("read %s: column %s holds a %T, which a copy cannot move", table, cols[i], v)
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

// sequence returns the identity sequence of table's id column ("" when
// it has none).
func (c *copyTx) sequence(ctx context.Context, table string) (string, error) {
	if err := c.table(ctx, table); err != nil {
		return "", err
	}
	if !slices.Contains(c.tables[table], "id") {
		return "", nil
	}
	var seq *string
	if err := c.tx.QueryRow(ctx, "SELECT pg_get_serial_sequence($1, 'id')", pgx.Identifier{table}.Sanitize()).Scan(&seq); err != nil {
		return "", fmt.Errorf("sequence of %s: %w", table, err)
	}
	if seq == nil {
		return "", nil
	}
	return *seq, nil
}

func (c *copyTx) HighWater(ctx context.Context, table string) (int64, error) {
	seq, err := c.sequence(ctx, table)
	if err != nil || seq == "" {
		return 0, err
	}
	var n int64
	if err := c.tx.QueryRow(ctx, "SELECT coalesce(pg_sequence_last_value($1::regclass), 0)", seq).Scan(&n); err != nil {
		return 0, fmt.Errorf("high water of %s: %w", table, err)
	}
	return n, nil
}

func (c *copyTx) LiveMembers(ctx context.Context, since time.Time) (int, error) {
	var n int
	if err := c.tx.QueryRow(ctx, "SELECT count(*) FROM members WHERE seen_at >= $1", unix(since)).Scan(&n); err != nil {
		return 0, fmt.Errorf("members: %w", err)
	}
	return n, nil
}

// Clear empties every table of the state and members, in one TRUNCATE.
func (c *copyTx) Clear(ctx context.Context) error {
	tables, err := c.Tables(ctx)
	if err != nil {
		return err
	}
	names := []string{pgx.Identifier{"members"}.Sanitize()}
	for t := range tables {
		names = append(names, pgx.Identifier{t}.Sanitize())
	}
	slices.Sort(names)
	if _, err := c.tx.Exec(ctx, "TRUNCATE "+strings.Join(names, ", ")); err != nil {
		return fmt.Errorf("clear: %w", err)
	}
	return nil
}

// Insert adds rows with COPY, converting the neutral integers to the
// column types (boolean, integer, smallint).
func (c *copyTx) Insert(ctx context.Context, table string, cols []string, rows [][]any) error {
	if err := c.table(ctx, table); err != nil {
		return err
	}
	types := c.types[table]
	for _, row := range rows {
		for i, v := range row {
			n, ok := v.(int64)
			if !ok {
				continue
			}
			switch types[cols[i]] {
			case "boolean":
				row[i] = n != 0
			case "integer":
				if int64(int32(n)) != n {
					return fmt.Errorf("insert into %s: column %s: %d out of range", table, cols[i], n)
				}
				row[i] = int32(n)
			case "smallint":
				if int64(int16(n)) != n {
					return fmt.Errorf("insert into %s: column %s: %d out of range", table, cols[i], n)
				}
				row[i] = int16(n)
			}
		}
	}
	if _, err := c.tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	return nil
}

func (c *copyTx) SetHighWater(ctx context.Context, table string, id int64) error {
	seq, err := c.sequence(ctx, table)
	if err != nil || seq == "" {
		return err
	}
	_, err = c.tx.Exec(ctx, `
SELECT setval($1::regclass, v) FROM (
    SELECT greatest($2::bigint, coalesce(pg_sequence_last_value($1::regclass), 0),
        (SELECT coalesce(max(id), 0) FROM `+pgx.Identifier{table}.Sanitize()+`)) AS v) x
WHERE v > 0`, seq, id)
	if err != nil {
		return fmt.Errorf("high water of %s: %w", table, err)
	}
	return nil
}
