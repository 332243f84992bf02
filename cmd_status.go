package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"herald/feed"
	"herald/schedule"
	"herald/schedule/store"
)

// runStatus prints what is due next, the last scan and the deliveries.
func (m *Main) runStatus(ctx context.Context) error {
	if err := m.noArgs("status"); err != nil {
		return err
	}
	// Titles, addresses and SMTP errors come from outside: a control
	// character in them must not reach the terminal.
	out := m.Stdout
	m.Stdout = printableWriter{out}
	defer func() { m.Stdout = out }()
	e, err := m.openEnvMode(ctx, false, false, true) // only reads
	if err != nil {
		return err
	}
	rep, err := schedule.Status(ctx, schedule.StatusOptions{Site: &m.Config.Site, Schedule: m.Config.Schedule, Loader: e.loader, Store: e.db, Clock: m.clock()})
	if err != nil {
		return err
	}
	if err := rep.WriteText(m.Stdout); err != nil {
		return err
	}
	subs, err := e.db.CountSubscribers(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "\nSubscribers: %d confirmed, %d pending, %d unsubscribed\n", subs.Confirmed, subs.Pending, subs.Unsubscribed)
	if err := m.writeMerges(ctx, e.db); err != nil {
		return err
	}
	stats, err := e.db.DeliveryStats(ctx, 10)
	if err != nil {
		return err
	}
	if len(stats) > 0 {
		fmt.Fprintln(m.Stdout, "\nDeliveries (newest mailings):")
		tw := tabwriter.NewWriter(m.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  MAILING\tPOSTS\tSENT\tPENDING\tRETRYING\tFAILED")
		for _, s := range stats {
			titles := make([]string, 0, len(s.Posts))
			for _, p := range s.Posts {
				titles = append(titles, p.Title)
			}
			label := strings.Join(titles, "; ")
			if s.Skipped != "" {
				label += " (skipped: " + s.Skipped + ")"
			} else if s.WaitReason != "" {
				label += " (waiting: " + s.WaitReason + "; next try " + s.WaitUntil.In(m.Config.Site.Location()).Format("2006-01-02 15:04 MST") + ")"
			} else if w := mailingWaiting(ctx, e.loader, s); w != "" {
				label += " (" + w + ")"
			}
			fmt.Fprintf(tw, "  #%d %s\t%s\t%d\t%d\t%d\t%d\n", s.MailingID, s.Kind, label, s.Sent, s.Pending, s.Retrying, s.Failed)
		}
		tw.Flush()
	}
	if err := writeMembers(ctx, m, e.db); err != nil {
		return err
	}
	failed, err := e.db.FailedDeliveries(ctx, 20)
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		fmt.Fprintln(m.Stdout, "\nFailed recipients (re-queue with: herald send -retry-failed POST):")
		for _, f := range failed {
			fmt.Fprintf(m.Stdout, "  %s  %s  after %s: %d %s\n", f.Email, strings.Join(f.PostIDs, ", "), plural(f.Attempts, "attempt"), f.Code, f.Error)
		}
	}
	if err := m.writeBounceStatus(ctx, e.db); err != nil {
		return err
	}
	if rep.PostsError != nil {
		// Everything else was shown; the error is not hidden by exit 0.
		return fmt.Errorf("status: the posts folder cannot be read: %w", rep.PostsError)
	}
	return nil
}

// writeMerges lists the duplicate addresses (differing only in case) that
// the database upgrade merged, if any.
func (m *Main) writeMerges(ctx context.Context, db store.Store) error {
	merges, err := db.SubscriberMerges(ctx)
	if err != nil || len(merges) == 0 {
		return err
	}
	fmt.Fprintf(m.Stdout, "\nMerged duplicate addresses (one subscriber per address, whatever its case; %d):\n", len(merges))
	for _, g := range merges {
		note := ""
		if g.Unsubscribed {
			note = "; it had unsubscribed later, so the kept address is unsubscribed"
		}
		fmt.Fprintf(m.Stdout, "  %s (%s) into %s, on %s%s\n", g.MergedEmail, g.MergedStatus, g.KeptEmail, day(g.MergedAt), note)
	}
	return nil
}

// writeMembers lists the live daemons (heartbeat younger than
// schedule.LiveFor): several on PostgreSQL, at most one on SQLite.
func writeMembers(ctx context.Context, m *Main, db store.Store) error {
	now := m.clock().Now()
	list, err := db.Members(ctx, now.Add(-schedule.LiveFor))
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(m.Stdout, "\nDaemons: none running")
		return nil
	}
	fmt.Fprintf(m.Stdout, "\nDaemons (%d live):\n", len(list))
	tw := tabwriter.NewWriter(m.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  HOST\tPID\tVERSION\tSTARTED\tLAST HEARTBEAT\tHOLDING")
	for _, d := range list {
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s ago\t%d deliveries\n", d.Host, d.PID, d.Version,
			d.StartedAt.Format(time.RFC3339), now.Sub(d.SeenAt).Round(time.Second), d.Held)
	}
	return tw.Flush()
}

// plural is "1 attempt", "2 attempts".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// printable is s with every control character but those in keep replaced
// by "?", so that text from outside (titles, server replies) cannot move
// the cursor or forge lines of its own.
func printable(s, keep string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && !strings.ContainsRune(keep, r) {
			return '?'
		}
		return r
	}, s)
}

// printableWriter writes through to w with every control character but
// newline and tab replaced by "?".
type printableWriter struct{ w io.Writer }

func (p printableWriter) Write(b []byte) (int, error) {
	s := printable(string(b), "\n\t")
	if _, err := io.WriteString(p.w, s); err != nil {
		return 0, err
	}
	return len(b), nil
}

// mailingWaiting says why an unfinished mailing waits when one of its posts
// announced without a snapshot (before snapshots existed) cannot be read
// now (broken front matter, a renamed file): the mailer holds it back until
// the post is back, and nothing is mailed meanwhile. "" when it is not
// waiting for a post. (A post with a snapshot is mailed as it was
// announced, whatever its file holds now.)
func mailingWaiting(ctx context.Context, l *feed.Loader, s store.MailingStats) string {
	if s.Total() > 0 && s.Pending+s.Retrying == 0 {
		return ""
	}
	for _, p := range s.Posts {
		if p.Snapshot != nil {
			continue
		}
		if _, err := l.Post(ctx, p.PostID); err != nil {
			return "waiting: post " + cmp.Or(p.Path, p.PostID) + " cannot be read: " + err.Error()
		}
	}
	return ""
}
