package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Copying a whole state from one database to another (`herald state
// copy`), whatever their backends: each backend reads its tables in one
// consistent snapshot (StateReader) and writes them in one transaction
// (StateWriter); CopyState moves the rows between them in a neutral form.

// Errors of a copy. Test with errors.Is.
var (
	// ErrTargetNotEmpty: the target holds a state already (refused without
	// Force, so that a copy never mixes two states or loses one).
	ErrTargetNotEmpty = errors.New("the target database is not empty")
	// ErrLiveDaemons: a daemon is running on the source or the target.
	ErrLiveDaemons = errors.New("daemons are running on the database")
	// ErrSchemaMismatch: the two databases do not have the same tables
	// and columns (their herald versions differ).
	ErrSchemaMismatch = errors.New("the two databases have different tables or columns")
	// ErrCountMismatch: the target does not hold as many rows as the
	// source after the copy.
	ErrCountMismatch = errors.New("row counts differ after the copy")
)

// copyOrder lists the tables of a state, each after the tables it refers
// to; a copy inserts in this order. Tables a later migration adds and this
// list does not name are copied after these, in name order.
var copyOrder = []string{
	"meta", "posts", "subscribers", "mailings", "announcements",
	"deliveries", "delivery_attempts", "subscriber_merges", "bounce_events",
}

// NotCopied lists the tables a copy leaves out: each database's own
// migration record, and the daemons that ran on the source (the target's
// daemons register themselves; the leases they held expire).
var NotCopied = []string{"schema_migrations", "members"}

// Columns maps each table of a state (NotCopied left out) to its column
// names, in the backend's order.
type Columns map[string][]string

// StateReader reads one consistent snapshot of a whole state. Row values
// are nil, int64, string or []byte: the neutral form both backends write
// (a boolean is the int64 0 or 1; a time, Unix seconds).
type StateReader interface {
	Tables(ctx context.Context) (Columns, error)
	Count(ctx context.Context, table string) (int64, error)
	// Rows calls fn with every row of table, columns as cols, in primary
	// key order. fn may keep row.
	Rows(ctx context.Context, table string, cols []string, fn func(row []any) error) error
	// HighWater is the highest id the table's id generator has handed out
	// (which may exceed the largest id left: ids are never reused), 0 when
	// the table has none.
	HighWater(ctx context.Context, table string) (int64, error)
	// LiveMembers counts the daemons whose last heartbeat is at or after since.
	LiveMembers(ctx context.Context, since time.Time) (int, error)
}

// StateWriter writes a whole state in one transaction (the backend's
// WriteState commits it when the copy succeeds).
type StateWriter interface {
	Tables(ctx context.Context) (Columns, error)
	Count(ctx context.Context, table string) (int64, error)
	LiveMembers(ctx context.Context, since time.Time) (int, error)
	// Clear deletes every row of the state, members included (Force).
	Clear(ctx context.Context) error
	// Insert adds rows (in the neutral form) to table, columns as cols.
	Insert(ctx context.Context, table string, cols []string, rows [][]any) error
	// SetHighWater makes the table's id generator hand out ids above id
	// (and above every id in the table) from now on; it never lowers it.
	SetHighWater(ctx context.Context, table string, id int64) error
}

// Copier is a backend that takes part in a copy.
type Copier interface {
	// ReadState calls fn with a reader of one consistent snapshot.
	ReadState(ctx context.Context, fn func(StateReader) error) error
	// WriteState calls fn with a writer in one transaction, committed when
	// fn returns nil and rolled back otherwise.
	WriteState(ctx context.Context, fn func(StateWriter) error) error
	Location() string
}

// CopyOptions are CopyState's settings.
type CopyOptions struct {
	// Force replaces a target that is not empty (its rows are deleted in
	// the copy's transaction).
	Force bool
	// Now is the time of the copy: a daemon whose heartbeat is younger
	// than LiveFor before it counts as running.
	Now     time.Time
	LiveFor time.Duration
	// Progress, when set, is called after each table with its rows copied.
	Progress func(table string, rows int64)
}

// TableCount is the row count of one table on both sides of a copy.
type TableCount struct {
	Table          string
	Source, Target int64
}

// copyBatch is how many rows a copy hands to the target at once.
const copyBatch = 2000

// CopyState copies the whole state of from into to: every table but
// NotCopied, row for row with its ids, then the id generators (so that a
// new row never takes an id the source handed out: tokens name
// subscribers by id). Deliveries in flight (sending) keep their owner but
// lose their lease, so the target's first daemon takes them over.
//
// It refuses a target that is not empty (unless o.Force), databases whose
// tables or columns differ, and live daemons on either side. The whole
// write is one transaction, rolled back unless every table's count on the
// target equals the source's. It returns the counts per table.
func CopyState(ctx context.Context, from, to Copier, o CopyOptions) ([]TableCount, error) {
	var counts []TableCount
	err := from.ReadState(ctx, func(r StateReader) error {
		if err := checkLive(ctx, r.LiveMembers, from.Location(), o); err != nil {
			return err
		}
		return to.WriteState(ctx, func(w StateWriter) error {
			var err error
			counts, err = copyTables(ctx, r, w, from.Location(), to.Location(), o)
			return err
		})
	})
	return counts, err
}

func checkLive(ctx context.Context, live func(context.Context, time.Time) (int, error), loc string, o CopyOptions) error {
	if o.LiveFor <= 0 {
		return nil
	}
	n, err := live(ctx, o.Now.Add(-o.LiveFor))
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("store: copy: %s: %d %w (a heartbeat within %v): stop them first", loc, n, ErrLiveDaemons, o.LiveFor)
	}
	return nil
}

func copyTables(ctx context.Context, r StateReader, w StateWriter, fromLoc, toLoc string, o CopyOptions) ([]TableCount, error) {
	if err := checkLive(ctx, w.LiveMembers, toLoc, o); err != nil {
		return nil, err
	}
	src, err := r.Tables(ctx)
	if err != nil {
		return nil, err
	}
	dst, err := w.Tables(ctx)
	if err != nil {
		return nil, err
	}
	if err := sameSchema(src, dst, fromLoc, toLoc); err != nil {
		return nil, err
	}
	tables := orderTables(src)
	if !o.Force {
		var full []string
		for _, t := range tables {
			n, err := w.Count(ctx, t)
			if err != nil {
				return nil, err
			}
			if n > 0 {
				full = append(full, fmt.Sprintf("%s: %d rows", t, n))
			}
		}
		if len(full) > 0 {
			return nil, fmt.Errorf("store: copy: %s: %w (%s); refusing to overwrite it: copy into an empty database, or give -force to delete its state and replace it",
				toLoc, ErrTargetNotEmpty, strings.Join(full, ", "))
		}
	}
	if err := w.Clear(ctx); err != nil {
		return nil, err
	}
	copied := make([]int64, len(tables)) // rows read from the source's snapshot, per table
	for i, t := range tables {
		cols := src[t]
		fix := rowFixer(t, cols)
		batch := make([][]any, 0, copyBatch)
		var n int64
		err := r.Rows(ctx, t, cols, func(row []any) error {
			if fix != nil {
				fix(row)
			}
			batch = append(batch, row)
			n++
			if len(batch) == copyBatch {
				if err := w.Insert(ctx, t, cols, batch); err != nil {
					return err
				}
				batch = make([][]any, 0, copyBatch)
			}
			return nil
		})
		if err == nil && len(batch) > 0 {
			err = w.Insert(ctx, t, cols, batch)
		}
		if err != nil {
			return nil, fmt.Errorf("store: copy: table %s: %w", t, err)
		}
		hw, err := r.HighWater(ctx, t)
		if err != nil {
			return nil, err
		}
		if err := w.SetHighWater(ctx, t, hw); err != nil {
			return nil, err
		}
		copied[i] = n
		if o.Progress != nil {
			o.Progress(t, n)
		}
	}
	// The counts, both sides, before the commit: a difference rolls the
	// copy back. The source's are the rows read (one snapshot: its count).
	counts := make([]TableCount, 0, len(tables))
	var bad []string
	for i, t := range tables {
		s := copied[i]
		d, err := w.Count(ctx, t)
		if err != nil {
			return nil, err
		}
		counts = append(counts, TableCount{Table: t, Source: s, Target: d})
		if s != d {
			bad = append(bad, fmt.Sprintf("%s: %d in the source, %d in the target", t, s, d))
		}
	}
	if len(bad) > 0 {
		return counts, fmt.Errorf("store: copy: %w (%s): nothing was written", ErrCountMismatch, strings.Join(bad, "; "))
	}
	if err := checkLive(ctx, w.LiveMembers, toLoc, o); err != nil {
		return counts, err
	}
	return counts, nil
}

// rowFixer returns what a copy changes in a row of table (nil: nothing):
// a delivery in flight loses its lease (lease_until 0, expired), so that
// the target's daemons take it over at once; its owner stays for the
// record.
func rowFixer(table string, cols []string) func([]any) {
	if table != "deliveries" {
		return nil
	}
	state, lease := slices.Index(cols, "state"), slices.Index(cols, "lease_until")
	if state < 0 || lease < 0 {
		return nil
	}
	return func(row []any) {
		if s, _ := row[state].(string); s == "sending" {
			row[lease] = int64(0)
		}
	}
}

// sameSchema checks that both databases have the same tables with the
// same columns (in any order).
func sameSchema(src, dst Columns, fromLoc, toLoc string) error {
	var diffs []string
	for t, cols := range src {
		dcols, ok := dst[t]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("table %s only in %s", t, fromLoc))
			continue
		}
		for _, c := range cols {
			if !slices.Contains(dcols, c) {
				diffs = append(diffs, fmt.Sprintf("column %s.%s only in %s", t, c, fromLoc))
			}
		}
		for _, c := range dcols {
			if !slices.Contains(cols, c) {
				diffs = append(diffs, fmt.Sprintf("column %s.%s only in %s", t, c, toLoc))
			}
		}
	}
	for t := range dst {
		if _, ok := src[t]; !ok {
			diffs = append(diffs, fmt.Sprintf("table %s only in %s", t, toLoc))
		}
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		return fmt.Errorf("store: copy: %w: %s", ErrSchemaMismatch, strings.Join(diffs, "; "))
	}
	return nil
}

// orderTables returns the tables of cols in copy order.
func orderTables(cols Columns) []string {
	var out, rest []string
	for _, t := range copyOrder {
		if _, ok := cols[t]; ok {
			out = append(out, t)
		}
	}
	for t := range cols {
		if !slices.Contains(copyOrder, t) {
			rest = append(rest, t)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

// VerifyCopy counts the rows of every table of db (after the copy's
// commit) and compares them with the source's counts; the result holds
// the target's counts as read now, and ErrCountMismatch names each
// difference.
func VerifyCopy(ctx context.Context, db Copier, counts []TableCount) ([]TableCount, error) {
	out := make([]TableCount, len(counts))
	var bad []string
	err := db.ReadState(ctx, func(r StateReader) error {
		for i, c := range counts {
			n, err := r.Count(ctx, c.Table)
			if err != nil {
				return err
			}
			out[i] = TableCount{Table: c.Table, Source: c.Source, Target: n}
			if n != c.Source {
				bad = append(bad, fmt.Sprintf("%s: %d in the source, %d in the target", c.Table, c.Source, n))
			}
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("store: copy: %s: %w (%s)", db.Location(), ErrCountMismatch, strings.Join(bad, "; "))
	}
	return out, nil
}
