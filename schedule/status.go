package schedule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"herald/feed"
	"herald/schedule/store"
)

// StatusStore is what `herald status` reads from the database; *sqlite.DB
// implements it. Status only reads, so it runs safely while the daemon
// writes.
type StatusStore interface {
	Posts(ctx context.Context) (map[string]store.PostState, error)
	Meta(ctx context.Context, key string) (string, error)
	Announcements(ctx context.Context, limit int) ([]store.Announcement, error)
}

// StatusOptions are the inputs of Status.
type StatusOptions struct {
	Site     *feed.Site // validated
	Schedule Config     // validated
	Loader   *feed.Loader
	Store    StatusStore
	Clock    Clock // nil: SystemClock()
	Recent   int   // how many recent announcements; zero: 5
}

// StatusReport is what `herald status` prints.
type StatusReport struct {
	Now      time.Time
	Location *time.Location
	Cron     string
	NextRun  time.Time

	Upcoming []UpcomingPost // published, future-dated posts, soonest first
	Pending  []UpcomingPost // due but not yet announced: the daemon has not scanned since they fell due
	Drafts   int            // posts with published: false or draft: true
	Problems []feed.Problem // bad posts (skipped) and warnings
	// PostsError: the posts folder could not be read (the post counts
	// are then empty); the rest of the report comes from the database.
	PostsError error

	PostsPublished int // due posts in the folder now
	Announced      int // posts the database records as announced

	HaveLastScan    bool // the daemon has recorded a scan
	LastScan        time.Time
	LastScanOK      bool
	LastScanError   string
	StoredPublished int // posts_published as of the daemon's last scan
	// ScanRunningSince: the daemon's scan in progress started then and had
	// run for at least 10 s when it said so; zero when none.
	ScanRunningSince time.Time
	// MailPause: the mail worker is paused (HaveMailPause), as it
	// recorded it.
	HaveMailPause bool
	MailPause     MailPause

	Recent []store.Announcement // newest first
}

// UpcomingPost is a post in StatusReport.
type UpcomingPost struct {
	Title string
	Path  string
	Due   time.Time // in the site's zone
}

// Status builds the report of `herald status` from its own scan of the
// posts folder and read-only queries on the database.
func Status(ctx context.Context, opts StatusOptions) (*StatusReport, error) {
	if opts.Site == nil || opts.Loader == nil || opts.Store == nil {
		return nil, errors.New("schedule: status: Site, Loader and Store are required")
	}
	loc := opts.Site.Location()
	if loc == nil {
		loc = time.UTC
	}
	clock := opts.Clock
	if clock == nil {
		clock = SystemClock()
	}
	now := clock.Now().In(loc)
	recent := opts.Recent
	if recent == 0 {
		recent = 5
	}
	r := &StatusReport{Now: now, Location: loc, Cron: opts.Schedule.Cron}
	if next, err := NextRun(opts.Schedule.Cron, now); err == nil {
		r.NextRun = next
	}

	snap, err := opts.Loader.Scan(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("schedule: status: %w", err)
		}
		r.PostsError, snap = err, &feed.Snapshot{}
	}
	known, err := opts.Store.Posts(ctx)
	if err != nil {
		return nil, fmt.Errorf("schedule: status: %w", err)
	}
	r.Problems = snap.Problems
	announcedPaths := make(map[string]bool, len(known))
	for _, k := range known {
		if !k.AnnouncedAt.IsZero() {
			announcedPaths[k.Path] = true
		}
	}
	for _, p := range snap.Posts {
		switch {
		case !p.Published:
			r.Drafts++
		case p.Date.After(now):
			r.Upcoming = append(r.Upcoming, UpcomingPost{Title: p.Title, Path: p.Path, Due: p.Date.In(loc)})
		default:
			r.PostsPublished++
			if known[p.ID].AnnouncedAt.IsZero() && !announcedPaths[p.Path] {
				r.Pending = append(r.Pending, UpcomingPost{Title: p.Title, Path: p.Path, Due: p.Date.In(loc)})
			}
		}
	}
	byDue := func(a, b UpcomingPost) int {
		if c := a.Due.Compare(b.Due); c != 0 {
			return c
		}
		return strings.Compare(a.Path, b.Path)
	}
	slices.SortFunc(r.Upcoming, byDue)
	slices.SortFunc(r.Pending, byDue)
	for _, k := range known {
		if !k.AnnouncedAt.IsZero() {
			r.Announced++
		}
	}

	// The daemon's last scan, as it saved it (absent: it never ran).
	meta := make(map[string]string, 4)
	for _, key := range []string{MetaLastScanAt, MetaLastScanOK, MetaLastScanError, MetaPostsPublished, MetaScanRunningSince, MetaMailPaused} {
		v, err := opts.Store.Meta(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("schedule: status: %w", err)
		}
		meta[key] = v
	}
	if t, err := time.Parse(time.RFC3339, meta[MetaLastScanAt]); err == nil {
		r.HaveLastScan, r.LastScan = true, t.In(loc)
	}
	r.LastScanOK = meta[MetaLastScanOK] == "true"
	r.LastScanError = meta[MetaLastScanError]
	r.StoredPublished, _ = strconv.Atoi(meta[MetaPostsPublished])
	// A scan that ended after the recorded start is over, even if the
	// daemon could not clear the record (a write that failed, a kill).
	if t, err := time.Parse(time.RFC3339, meta[MetaScanRunningSince]); err == nil && !(r.HaveLastScan && r.LastScan.After(t)) {
		r.ScanRunningSince = t.In(loc)
	}

	r.MailPause, r.HaveMailPause = readMailPause(meta[MetaMailPaused])

	if r.Recent, err = opts.Store.Announcements(ctx, recent); err != nil {
		return nil, fmt.Errorf("schedule: status: %w", err)
	}
	return r, nil
}

// WriteText prints the report for people.
func (r *StatusReport) WriteText(w io.Writer) error {
	var b strings.Builder
	const layout = "2006-01-02 15:04 MST"
	at := func(t time.Time) string { return t.In(r.Location).Format(layout) }

	fmt.Fprintf(&b, "Now: %s\n", at(r.Now))
	if len(r.Upcoming) == 0 {
		b.WriteString("Upcoming posts: none\n")
	} else {
		fmt.Fprintf(&b, "Upcoming posts (%d):\n", len(r.Upcoming))
		for _, p := range r.Upcoming {
			fmt.Fprintf(&b, "  %s  (%s)  %s  %s\n", at(p.Due), Until(r.Now, p.Due), p.Title, p.Path)
		}
	}
	if len(r.Pending) > 0 {
		fmt.Fprintf(&b, "Due but not yet published (%d; is the daemon running?):\n", len(r.Pending))
		for _, p := range r.Pending {
			fmt.Fprintf(&b, "  %s  %s  %s\n", at(p.Due), p.Title, p.Path)
		}
	}
	if !r.NextRun.IsZero() {
		fmt.Fprintf(&b, "Next scan: %s (%s), schedule.cron = %q\n", at(r.NextRun), Until(r.Now, r.NextRun), r.Cron)
	}
	switch {
	case !r.HaveLastScan:
		b.WriteString("Last scan: never (the daemon has not run on this database)\n")
	case r.LastScanOK:
		fmt.Fprintf(&b, "Last scan: %s (%s ago), ok\n", at(r.LastScan), roundDuration(r.Now.Sub(r.LastScan)))
	default:
		fmt.Fprintf(&b, "Last scan: %s (%s ago), FAILED: %s\n", at(r.LastScan), roundDuration(r.Now.Sub(r.LastScan)), r.LastScanError)
	}
	if !r.ScanRunningSince.IsZero() {
		fmt.Fprintf(&b, "Scan running for %s (since %s)\n", roundDuration(r.Now.Sub(r.ScanRunningSince)), at(r.ScanRunningSince))
	}
	if r.HaveMailPause {
		b.WriteString(strings.ToUpper(mailPausedText(r.Now, r.MailPause, r.Location)[:1]) + mailPausedText(r.Now, r.MailPause, r.Location)[1:] + "\n")
	}
	if r.PostsError != nil {
		fmt.Fprintf(&b, "Posts: %d announced; the posts folder cannot be read (the error follows)", r.Announced)
	} else {
		fmt.Fprintf(&b, "Posts: %d published, %d upcoming, %d drafts, %d announced", r.PostsPublished, len(r.Upcoming), r.Drafts, r.Announced)
	}
	if n := len(r.Problems); n > 0 {
		fmt.Fprintf(&b, ", %d problems (run herald check)", n)
	}
	b.WriteString("\n")
	if len(r.Recent) > 0 {
		b.WriteString("Recent announcements:\n")
		for _, a := range r.Recent {
			mail := "mail queued"
			switch {
			case !a.Queued:
				mail = "not mailed (first run)"
			case a.Skipped != "":
				mail = "not mailed: " + a.Skipped
			case a.WaitReason != "":
				mail = "waiting: " + a.WaitReason + "; next try " + at(a.WaitUntil)
			case a.Expanded:
				mail = "mailed " + at(a.MailedAt)
			case !a.MailedAt.IsZero():
				mail = "mail being prepared"
			}
			if a.Manual {
				mail += ", manual"
			}
			fmt.Fprintf(&b, "  %s  %s  %s  [%s]\n", at(a.CreatedAt), a.Title, a.Path, mail)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Until formats the time from now to t for people: "in 3h20m", "in 2d4h",
// "in 45s", or "5m ago" for a past t.
func Until(now, t time.Time) string {
	d := t.Sub(now)
	if d < 0 {
		return roundDuration(-d) + " ago"
	}
	return "in " + roundDuration(d)
}

// roundDuration formats d compactly, keeping two units at most.
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Round(time.Second)/time.Second)) + "s"
	case d < time.Hour:
		d = d.Round(time.Second)
		m, s := d/time.Minute, (d%time.Minute)/time.Second
		if s == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%ds", m, s)
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		h, m := d/time.Hour, (d%time.Hour)/time.Minute
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	default:
		d = d.Round(time.Hour)
		days, h := d/(24*time.Hour), (d%(24*time.Hour))/time.Hour
		if h == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%dh", days, h)
	}
}
