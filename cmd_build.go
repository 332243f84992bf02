package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"herald/feed"
	"herald/schedule"
)

// runBuild writes the feeds once from the posts that parse, reports every
// problem as file:line, and exits 1 when a post had to be skipped.
func (m *Main) runBuild(ctx context.Context) error {
	loader, snap, err := m.scanPosts(ctx)
	if err != nil {
		return err
	}
	c := &m.Config
	failed := m.printProblems(snap.Problems)
	snap = schedule.WithEdits(snap, m.editTimes(ctx))
	// Entries then BuildDir is Generate then WriteDir without holding the
	// feed files in memory: each is streamed to disk as it is built.
	entries, genErr := feed.Entries(ctx, loader, &c.Site, &c.Feeds, snap, m.clock().Now())
	if genErr != nil {
		fmt.Fprintf(m.Stderr, "%v\n", genErr)
		failed++
	}
	if entries != nil {
		files, changed, err := feed.BuildDir(ctx, c.Feeds.Dir, &c.Site, &c.Feeds, entries)
		if err != nil {
			return err
		}
		due := 0
		now := m.clock().Now()
		for _, p := range snap.Posts {
			if p.Due(now) {
				due++
			}
		}
		fmt.Fprintf(m.Stdout, "%d posts read, %d published, %d files in %s (%d changed)\n",
			len(snap.Posts), due, len(files), c.Feeds.Dir, len(changed))
		for _, name := range changed {
			fmt.Fprintf(m.Stdout, "  wrote %s\n", filepath.Join(c.Feeds.Dir, filepath.FromSlash(name)))
		}
	}
	if failed > 0 {
		return silentError(1)
	}
	return nil
}

// editTimes returns the edit times of the posts as the state database
// keeps them (herald run records when it sees a published post change), so
// that build writes the entries' updated as the daemon does; nil when
// there is no database. build never creates or changes one: a one-shot
// build has no memory of a post's earlier content, so without a database
// only updated/last_modified_at move an entry's updated.
func (m *Main) editTimes(ctx context.Context) func(string) time.Time {
	c := m.Config.State
	if !c.Postgres() {
		if _, err := os.Stat(c.Database); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	db, err := openStore(ctx, c, true, m.Logger)
	if err != nil {
		fmt.Fprintf(m.Stderr, "warning: %v: entries' updated come from updated/last_modified_at only\n", err)
		return nil
	}
	defer db.Close()
	known, err := db.Posts(ctx)
	if err != nil {
		fmt.Fprintf(m.Stderr, "warning: %v: entries' updated come from updated/last_modified_at only\n", err)
		return nil
	}
	return func(id string) time.Time { return known[id].EditedAt }
}

// scanPosts is the start of build and check: no arguments, the
// configuration, one scan of the posts folder.
func (m *Main) scanPosts(ctx context.Context) (*feed.Loader, *feed.Snapshot, error) {
	if err := m.noArgs(m.Command); err != nil {
		return nil, nil, err
	}
	if err := m.loadConfig(); err != nil {
		return nil, nil, err
	}
	loader := m.newLoader(m.Logger)
	snap, err := loader.Scan(ctx)
	if err != nil {
		return nil, nil, err
	}
	return loader, snap, nil
}

// printProblems prints problems as "file:line: message" and returns how
// many were errors.
func (m *Main) printProblems(ps []feed.Problem) int {
	errs := 0
	for _, p := range ps {
		if p.Warning {
			fmt.Fprintf(m.Stderr, "%s (warning)\n", p.Error())
			continue
		}
		errs++
		fmt.Fprintln(m.Stderr, p.Error())
	}
	return errs
}

// newLoader is the loader of the configured posts folder, with its limits,
// on the program's clock.
func (m *Main) newLoader(log *slog.Logger) *feed.Loader {
	l := feed.NewLoaderWith(&m.Config.Site, m.Config.Posts.Dir, feed.LoaderOptions{Logger: log, Clock: feedClock{m.clock()}})
	l.SetLimits(&m.Config.Posts)
	return l
}

// feedClock is the program's clock as a feed.Clock.
type feedClock struct{ schedule.Clock }

func (c feedClock) NewTimer(d time.Duration) feed.Timer { return c.Clock.NewTimer(d) }
