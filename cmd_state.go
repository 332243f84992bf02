package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"text/tabwriter"

	"herald/schedule"
	"herald/schedule/store"
	"herald/schedule/store/postgres"
	"herald/schedule/store/sqlite"
)

// stateDB is a database a copy reads or writes.
type stateDB interface {
	store.Copier
	Close() error
}

// runState is `herald state`.
func (m *Main) runState(ctx context.Context) error {
	if len(m.Args) == 0 {
		return &usageError{msg: "state: missing subcommand", usage: subcommandsUsage("state")}
	}
	sub, args := m.Args[0], m.Args[1:]
	if isHelp(sub) {
		fmt.Fprint(m.Stdout, subcommandsUsage("state"))
		return flag.ErrHelp
	}
	if sub != "copy" {
		return &usageError{msg: fmt.Sprintf("state: unknown subcommand %q", sub), usage: subcommandsUsage("state")}
	}
	fs := m.flags("state copy")
	force := fs.Bool("force", false, "replace the state of a target database that is not empty")
	pwEnv := fs.String("password-env", "", "environment variable `NAME` holding the PostgreSQL password (default: state.password_env of the configuration, when there is one)")
	pwFile := fs.String("password-file", "", "`FILE` holding the PostgreSQL password (default: state.password_file of the configuration)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return &usageError{msg: fmt.Sprintf("state copy: want FROM and TO, got %d arguments", fs.NArg()), usage: commandUsage(fs, "state copy")}
	}
	from, to := fs.Arg(0), fs.Arg(1)
	pw := store.Config{PasswordEnv: *pwEnv, PasswordFile: *pwFile}
	if *pwEnv == "" && *pwFile == "" {
		// The configuration's password settings, when there is one.
		if _, err := findConfig(m.ConfigPath); err == nil {
			if err := m.loadConfig(); err != nil {
				return err
			}
			pw.PasswordEnv, pw.PasswordFile = m.Config.State.PasswordEnv, m.Config.State.PasswordFile
		}
	}
	return m.copyState(ctx, from, to, pw, *force)
}

// copyState is `herald state copy FROM TO`.
func (m *Main) copyState(ctx context.Context, from, to string, pw store.Config, force bool) error {
	if same, err := sameDatabase(from, to); err != nil {
		return err
	} else if same {
		return &usageError{msg: fmt.Sprintf("state copy: FROM and TO are the same database (%s)", from)}
	}
	if !store.IsPostgresURL(from) {
		if _, err := os.Stat(from); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("state copy: no SQLite database at %s", from)
		}
	}
	src, err := m.openCopyDB(ctx, from, pw)
	if err != nil {
		return err
	}
	dst, err := m.openCopyDB(ctx, to, pw)
	if err != nil {
		return err
	}
	copied := func(table string, n int64) {
		m.Logger.Debug("table copied", "table", table, "rows", n)
	}
	counts, err := store.CopyState(ctx, src, dst, store.CopyOptions{
		Force: force, Now: m.clock().Now(), LiveFor: schedule.LiveFor, Progress: copied,
	})
	if err != nil {
		if len(counts) > 0 {
			m.writeCounts(counts)
		}
		return err
	}
	// Counted again, after the commit, on a new snapshot of the target.
	after, err := store.VerifyCopy(ctx, dst, counts)
	fmt.Fprintf(m.Stdout, "Copied %s to %s:\n", src.Location(), dst.Location())
	m.writeCounts(after)
	if err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, "Every table holds as many rows as in the source. Deliveries in flight are taken over by the first daemon on the target.")
	return nil
}

// writeCounts prints the rows per table on both sides.
func (m *Main) writeCounts(counts []store.TableCount) {
	w := tabwriter.NewWriter(m.Stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(w, "  table\tsource\ttarget")
	for _, c := range counts {
		mark := ""
		if c.Source != c.Target {
			mark = "  MISMATCH"
		}
		fmt.Fprintf(w, "  %s\t%d\t%d%s\n", c.Table, c.Source, c.Target, mark)
	}
	w.Flush()
}

// openCopyDB opens one side of a copy (closed by m.Close): PostgreSQL
// with the password pw names, or a SQLite file under its daemon lock (a
// running daemon refuses the copy; none can start during it).
func (m *Main) openCopyDB(ctx context.Context, loc string, pw store.Config) (stateDB, error) {
	if store.IsPostgresURL(loc) {
		c := store.Config{Database: loc, PasswordEnv: pw.PasswordEnv, PasswordFile: pw.PasswordFile}
		if err := c.Validate(); err != nil {
			return nil, &usageError{msg: "state copy: " + loc + ": " + err.Error()}
		}
		p, err := c.Password()
		if err != nil {
			return nil, err
		}
		db, err := postgres.Open(ctx, loc, postgres.Options{Password: p})
		if err != nil {
			return nil, err
		}
		m.onClose(db.Close)
		return db, nil
	}
	if err := (&store.Config{Database: loc}).Validate(); err != nil {
		return nil, &usageError{msg: "state copy: " + err.Error()}
	}
	lock, err := sqlite.LockDaemon(loc)
	if err != nil {
		return nil, err
	}
	m.onClose(lock.Release)
	db, err := sqlite.Open(ctx, loc)
	if err != nil {
		return nil, err
	}
	m.onClose(db.Close)
	return db, nil
}

// sameDatabase reports whether from and to name one database: the same
// URL, or the same SQLite file.
func sameDatabase(from, to string) (bool, error) {
	if store.IsPostgresURL(from) || store.IsPostgresURL(to) {
		return from == to, nil
	}
	a, err := filepath.Abs(from)
	if err != nil {
		return false, err
	}
	b, err := filepath.Abs(to)
	if err != nil {
		return false, err
	}
	if a == b {
		return true, nil
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb), nil
}
