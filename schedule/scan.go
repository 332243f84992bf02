package schedule

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime/debug"
	"strings"
	"time"

	"herald/feed"
	"herald/schedule/store"
)

// ScanResult is what one scan saw and did.
type ScanResult struct {
	At          time.Time      // Clock.Now when the posts were read
	Duration    time.Duration  // wall time the scan took
	Posts       int            // posts that parsed (drafts and future posts included)
	Published   int            // posts due at At
	Problems    []feed.Problem // bad posts (skipped) and warnings
	Recorded    int            // posts passed to Store.Record (new, changed, newly due)
	Announced   []store.Announcement
	Seeded      bool        // this scan was the first run on the database
	Generated   bool        // the feeds were regenerated (the due set or a due post changed)
	Changed     []string    // feed files rewritten on disk
	NextPostDue time.Time   // date of the next future-dated published post; zero: none
	RenderError error       // posts that failed to render (left out of the feeds); not a failed scan
	NextRun     time.Time   // the next cron tick after At (in the cron zone)
	feeds       []feed.File // the generated files, for metrics
	snapshot    bool        // the posts folder was read (the counts above are valid)
}

// Scan reads the posts folder once and publishes what is due: new, changed
// and newly due posts are recorded (announcing each newly due post once),
// the feeds are regenerated when the due set changed, written, swapped into
// the handler and pinged to the WebSub hub, and the newsletter is woken when
// mail was queued. A scan where nothing changed writes nothing and renders
// nothing. Scans are serialised; Scan may be used without Run.
//
// A failed scan (the posts folder cannot be read, the database fails,
// the feeds cannot be built or written) returns an error; one bad post is
// not a failure (it is in ScanResult.Problems).
func (d *Daemon) Scan(ctx context.Context) (res ScanResult, err error) {
	d.scanMu.Lock()
	defer d.scanMu.Unlock()
	started := time.Now()
	from := d.clock.Now()
	d.mu.Lock()
	d.scanningFrom = from
	d.mu.Unlock()
	stopWatch := d.watchScan(ctx, from)
	defer func() {
		if r := recover(); r != nil {
			d.log.Error("scan panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("schedule: scan panicked: %v", r)
		}
		// The running-scan record is cleared before the scan counts as
		// done (afterScan, Health): status never shows a finished scan
		// as running.
		stopWatch()
		res.Duration = time.Since(started)
		d.finishScan(ctx, &res, err)
		if d.afterScan != nil {
			d.afterScan(res, err)
		}
	}()
	return d.scan(ctx)
}

// scan is Scan's work; scanMu is held.
func (d *Daemon) scan(ctx context.Context) (ScanResult, error) {
	var res ScanResult
	// The database must still be the file its path names: one deleted or
	// replaced under the daemon fails every scan, and so health, loudly,
	// rather than announcing into a file nobody else sees.
	if err := d.opts.Store.Ping(ctx); err != nil {
		return res, fmt.Errorf("schedule: scan: %w", err)
	}
	snap, err := d.opts.Loader.Scan(ctx)
	now := d.clock.Now()
	res.At = now
	res.NextRun = d.NextRun(now)
	if err != nil {
		return res, fmt.Errorf("schedule: scan: %w", err)
	}
	return d.process(ctx, snap, now, res)
}

// process is the scan after reading the folder: the diff against the
// database, Record, Generate and publishing. scanMu is held.
func (d *Daemon) process(ctx context.Context, snap *feed.Snapshot, now time.Time, res ScanResult) (ScanResult, error) {
	res.snapshot = true
	res.Posts = len(snap.Posts)
	res.Problems = snap.Problems
	var dbErr error // a database failure: reported after the feeds are published
	if d.known == nil {
		if known, err := d.opts.Store.Posts(ctx); err != nil {
			dbErr = fmt.Errorf("schedule: scan: %w", err)
		} else {
			d.known = known
			d.announcedPaths = make(map[string]bool, len(known))
			for _, k := range known {
				if !k.AnnouncedAt.IsZero() {
					d.announcedPaths[k.Path] = true
				}
			}
		}
	}

	// Diff the snapshot against the database's view.
	// (The Loader already skipped posts with duplicate ids, as Problems.)
	var seen []store.SeenPost
	archive := time.Time{} // due posts dated before it are recorded without mail: no snapshot
	if dbErr == nil && d.opts.MailSnapshot != nil {
		archive = d.archiveBefore(ctx, now)
	}
	for _, p := range snap.Posts {
		due := p.Due(now)
		if due {
			res.Published++
		}
		if p.Published && p.Date.After(now) && (res.NextPostDue.IsZero() || p.Date.Before(res.NextPostDue)) {
			res.NextPostDue = p.Date
		}
		k, ok := d.known[p.ID]
		changed := !ok || k.Hash != p.Hash || k.Path != p.Path || k.Slug != p.Slug ||
			k.Title != p.Title || k.URL != p.URL || k.Date.Unix() != p.Date.Unix()
		// A post whose file was announced under another id (its URL
		// moved with its date) is the same post: never announce it again.
		announced := !k.AnnouncedAt.IsZero() || d.announcedPaths[p.Path]
		if changed || (due && !announced) {
			sp := store.SeenPost{
				ID: p.ID, Path: p.Path, Slug: p.Slug, Title: p.Title, URL: p.URL, Hash: p.Hash,
				Date: p.Date, Due: due && (!announced || !k.AnnouncedAt.IsZero()),
			}
			if due && !announced && dbErr == nil && !p.Date.Before(archive) {
				// About to be announced: the newsletter is made from
				// the post as it is now, stored with the announcement.
				sp.Mail = d.mailSnapshot(ctx, p)
			}
			seen = append(seen, sp)
		}
	}
	d.logProblems(snap.Problems)

	// Record: the first scan always records (it seeds a fresh database).
	// A database failure fails the scan but does not hold back the feeds:
	// the posts are recorded (and announced once) by a later scan.
	if dbErr == nil && (len(seen) > 0 || !d.recorded) {
		rr, err := d.opts.Store.Record(ctx, now, seen, d.opts.Backfill)
		if err != nil {
			dbErr = fmt.Errorf("schedule: scan: %w", err)
		} else {
			d.recorded = true
			d.seeded = d.seeded || rr.Seeded
			res.Recorded = len(seen)
			res.Announced = rr.Announced
			res.Seeded = rr.Seeded
			d.remember(seen, rr, now)
			d.logAnnounced(rr)
		}
	}

	// Generate only when the due set (or a due post, or its edit time)
	// changed. An entry's updated follows an edit of its post
	// (store.PostState.EditedAt), kept in the database: a restart or
	// another daemon gives the same bytes.
	fp := fingerprint(d.seed, snap, now, d.known)
	if !d.published || fp != d.fp {
		out, gerr := feed.Generate(ctx, d.opts.Loader, d.opts.Site, d.opts.Feeds, WithEdits(snap, d.editedAt), now)
		if out == nil {
			if gerr == nil {
				gerr = errors.New("feed: generate returned no output")
			}
			return res, errors.Join(dbErr, fmt.Errorf("schedule: scan: %w", gerr))
		}
		if gerr != nil {
			res.RenderError = gerr
			d.log.Warn("some posts failed to render and are left out of the feeds", "err", gerr)
		}
		res.Generated = true
		res.feeds = out.Files
		if d.opts.Handler != nil {
			d.stampFeeds(ctx, out, now)
			d.opts.Handler.Swap(out)
		}
		changed, err := d.writeFeeds(ctx, out)
		if err != nil {
			return res, errors.Join(dbErr, fmt.Errorf("schedule: scan: %w", err))
		}
		res.Changed = changed
		// A post still rendering after posts.render_timeout is left out
		// for now: the next scan generates again and takes it in.
		d.fp, d.published = fp, !errors.Is(gerr, feed.ErrRenderTimeout)
		if len(changed) > 0 {
			d.log.Info("feeds updated", "files", strings.Join(changed, ", "), "published", res.Published)
			d.pingHub(changed)
		}
	}

	if d.opts.Newsletter != nil {
		for _, a := range res.Announced {
			if a.Queued {
				d.opts.Newsletter.Wake()
				break
			}
		}
	}
	return res, dbErr
}

// writeFeeds writes out to Feeds.Dir and returns the names whose bytes
// changed. With no Dir it compares against the previous output in memory.
func (d *Daemon) writeFeeds(ctx context.Context, out *feed.Output) ([]string, error) {
	if d.opts.Feeds.Dir != "" {
		return feed.WriteDir(ctx, d.opts.Feeds.Dir, out)
	}
	var changed []string
	next := make(map[string]string, len(out.Files))
	for _, f := range out.Files {
		next[f.Name] = f.ETag
		if old, ok := d.etags[f.Name]; !ok || old != f.ETag {
			changed = append(changed, f.Name)
		}
	}
	for name := range d.etags {
		if _, ok := next[name]; !ok {
			changed = append(changed, name)
		}
	}
	d.etags = next
	return changed, nil
}

// remember updates the in-memory view of the database after a Record.
func (d *Daemon) remember(seen []store.SeenPost, rr store.RecordResult, now time.Time) {
	for _, p := range seen {
		k := d.known[p.ID]
		if k.FirstSeen.IsZero() {
			k.FirstSeen = now
		}
		k.ID, k.Path, k.Slug, k.Title, k.URL, k.Hash, k.Date = p.ID, p.Path, p.Slug, p.Title, p.URL, p.Hash, p.Date
		k.EditedAt = rr.Edited[p.ID]
		if p.Due && k.AnnouncedAt.IsZero() {
			// Record marks every due post announced (or finds it was).
			k.AnnouncedAt = now
		}
		if !k.AnnouncedAt.IsZero() {
			d.announcedPaths[k.Path] = true
		}
		d.known[p.ID] = k
	}
	for _, a := range rr.Announced {
		if k, ok := d.known[a.PostID]; ok {
			k.AnnouncedAt = a.CreatedAt
			d.known[a.PostID] = k
		}
	}
}

// logAnnounced logs what a Record did.
func (d *Daemon) logAnnounced(rr store.RecordResult) {
	var seeded, queued int
	for _, a := range rr.Announced {
		if a.Queued {
			queued++
		} else {
			seeded++
		}
	}
	switch {
	case rr.Seeded && !d.opts.Backfill:
		d.log.Info(fmt.Sprintf("first run: recorded %d posts already published as announced without mailing; set mail.backfill = true to mail them", seeded),
			"posts", seeded)
	case rr.Seeded:
		d.log.Info(fmt.Sprintf("first run: queued %d posts already published for mail (mail.backfill = true)", queued),
			"posts", queued)
	default:
		for _, a := range rr.Announced {
			d.log.Info("post published", "title", a.Title, "path", a.Path, "url", a.URL, "queued", a.Queued)
		}
	}
}

// logProblems logs the bad posts when the list differs from the last scan's,
// so a rescan every minute does not repeat them.
func (d *Daemon) logProblems(problems []feed.Problem) {
	var h maphash.Hash
	h.SetSeed(d.seed)
	for _, p := range problems {
		h.WriteString(p.Error())
		h.WriteByte(0)
	}
	sum := h.Sum64()
	if d.problemsLogged && sum == d.problems {
		return
	}
	d.problems, d.problemsLogged = sum, true
	for _, p := range problems {
		if p.Warning {
			d.log.Warn("post warning", "problem", p.Error())
		} else {
			d.log.Error("post skipped", "problem", p.Error())
		}
	}
}

// fingerprint hashes what the feeds depend on: every post's file name,
// content hash (which covers its front matter: title, date, id), whether
// it is due at now and its edit time in known (store.PostState.EditedAt:
// a time learnt from the database after the post's change was published
// regenerates the feeds). It covers all posts, not only the due ones within
// feeds.limit, because a due post's rendered HTML may link to another post
// ({% post_url %}); a change outside the feeds costs one Generate whose
// identical bytes are not rewritten. A 64-bit maphash detects changes; it
// guards nothing.
func fingerprint(seed maphash.Seed, snap *feed.Snapshot, now time.Time, known map[string]store.PostState) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	for _, p := range snap.Posts {
		h.WriteString(p.Path)
		h.WriteByte(0)
		h.WriteString(p.Hash)
		if p.Due(now) {
			h.WriteByte(1)
		} else {
			h.WriteByte(0)
		}
		maphash.WriteComparable(&h, known[p.ID].EditedAt.Unix())
	}
	return h.Sum64()
}
