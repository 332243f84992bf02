// Package schedule is Herald's daemon: it decides when to scan the posts
// folder (cron ticks, an exact timer at the next future-dated post, a
// debounced file watch), works out which posts are newly due, records their
// announcements in the state database, regenerates and publishes the feeds
// (files, the HTTP handler, WebSub pings), wakes the newsletter, and reports
// its health (/healthz, /metrics, sd_notify, `herald status`).
//
// It is the only package that imports robfig/cron (for parsing specs only)
// and fsnotify; time comes from an injectable Clock.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"herald/feed"
	"herald/schedule/store"
)

// Store is the part of the state database the daemon uses; *sqlite.DB
// implements it.
type Store interface {
	Posts(ctx context.Context) (map[string]store.PostState, error)
	Record(ctx context.Context, now time.Time, posts []store.SeenPost, backfill bool) (store.RecordResult, error)
	SetMeta(ctx context.Context, key, value string) error
	Ping(ctx context.Context) error
}

// Newsletter is the part of the mailer the daemon drives. Wake tells it
// that announcements were queued; Digest is called at each tick of
// schedule.digest (when set).
type Newsletter interface {
	Wake()
	Digest(ctx context.Context, now time.Time) error
}

// Meta keys the daemon writes after scans, for `herald status` in another
// process.
const (
	MetaLastScanAt     = "last_scan_at"    // RFC 3339, UTC
	MetaLastScanOK     = "last_scan_ok"    // "true" | "false"
	MetaLastScanError  = "last_scan_error" // "" when the last scan succeeded
	MetaPostsPublished = "posts_published" // decimal count of due posts
)

// metaHeartbeat is how often last_scan_at is rewritten when nothing else
// changed: a rescan with nothing new writes to the database at most once
// per this period.
const metaHeartbeat = time.Minute

// Defaults of Options fields left zero.
const (
	DefaultDebounce      = 500 * time.Millisecond
	DefaultShutdownGrace = 10 * time.Second
)

// Timing of the loop and the watchdog.
const (
	// maxDebounce bounds how long a burst of file events can postpone its
	// rescan (a change is in the feeds within 2 s even under a steady
	// stream of writes).
	maxDebounce = 1500 * time.Millisecond
	// maxSleep bounds every wait of the loop: deadlines are re-checked
	// against Clock.Now at least this often, so a wall-clock jump (NTP,
	// suspend) delays a post by at most this much.
	maxSleep = time.Minute
	// stuckScan: a scan running longer than this stops the watchdog pings.
	stuckScan = 5 * time.Minute
	// failingTooLong: scans failing for longer than this stop the watchdog
	// pings, so systemd restarts Herald (reopening the database and the
	// watch); its restart limit stops a restart loop.
	failingTooLong = 15 * time.Minute
	// hubTries and hubBackoff bound the WebSub pings of one feed change.
	hubTries   = 5
	hubBackoff = time.Second
)

// Options configure a Daemon. Site, Feeds, Loader and Store are required.
type Options struct {
	Site     *feed.Site        // validated
	Feeds    *feed.FeedsConfig // validated; Dir "" writes no files (serves only)
	Schedule Config            // validated by New
	Backfill bool              // mail.backfill: on the first run, queue mail for posts already due
	Loader   *feed.Loader
	Store    Store
	// PostsDir is the posts folder to watch for changes (the Loader's);
	// "" disables the file watch (cron ticks and the exact timer remain).
	PostsDir   string
	Handler    *feed.Handler // may be nil: the served feeds are swapped on change
	Newsletter Newsletter    // may be nil
	Clock      Clock         // nil: SystemClock()
	Logger     *slog.Logger  // nil: discard
	HTTPClient *http.Client  // for WebSub pings; nil: a client with a 30 s timeout
	// Notify sends sd_notify states (e.g. SDNotify); nil: none.
	Notify func(state string)
	// Watchdog is the systemd watchdog interval; zero with Notify set:
	// WatchdogInterval() from the environment. Negative: no watchdog.
	Watchdog time.Duration
	// Debounce is the quiet time after a file event before the rescan;
	// zero: DefaultDebounce.
	Debounce time.Duration
	// ShutdownGrace bounds how long Run lets the scan in flight and the
	// WebSub pings run once its context is cancelled; zero:
	// DefaultShutdownGrace.
	ShutdownGrace time.Duration
}

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

// Daemon publishes newly due posts. Create it with New; Run runs the loop,
// Scan runs one scan (also without Run).
//
// The loop is one goroutine that selects over a single timer set to the
// earliest of: the next cron tick, the date of the next future-dated post
// (the exact timer), the end of a file-event debounce, the next digest
// tick; plus Wake requests and the context. robfig's cron.Cron runner is
// deliberately not used: with cron only parsing specs (Schedule.Next), all
// timing goes through the injectable Clock (tests advance a fake clock
// instead of sleeping), the exact timer and the debounce share the loop,
// and since scans run on that one goroutine two scans can never overlap —
// the guarantee cron.SkipIfStillRunning gives a cron.Cron. A panic inside a
// scan is recovered (the role of cron.Recover), logged with its stack and
// counted as a failed scan; the loop keeps running.
type Daemon struct {
	opts     Options
	log      *slog.Logger
	clock    Clock
	loc      *time.Location
	cron     spec
	digest   *spec
	client   *http.Client
	debounce time.Duration
	grace    time.Duration
	watchdog time.Duration

	wake    chan struct{}
	running atomic.Bool

	// Guarded by scanMu: scans are serialised.
	scanMu sync.Mutex
	known  map[string]store.PostState // the database's view of each post, kept current
	// announcedPaths holds the paths of announced posts: a post keeps its
	// file when its date (and with it its URL, the default id) moves.
	announcedPaths map[string]bool
	recorded       bool              // Record ran at least once (it seeds a fresh database)
	seed           maphash.Seed      // of fingerprints
	fp             uint64            // fingerprint of the due set last published
	published      bool              // fp is valid: feeds were generated and written
	problems       uint64            // fingerprint of the problems last logged
	problemsLogged bool              // problems is valid
	metaSent       map[string]string // meta values last written
	metaAt         time.Time         // when last_scan_at was last written
	etags          map[string]string // feed ETags last published (Feeds.Dir "")

	// Guarded by mu: the status read by Health, metrics and the watchdog.
	mu           sync.Mutex
	st           status
	feedBytes    map[string]int
	durations    histogram
	scans        uint64
	failures     uint64
	announced    uint64
	hubPings     uint64
	hubFailures  uint64
	scanningFrom time.Time // zero when no scan runs
	waitingUntil time.Time // the loop's timer deadline while it waits; zero while it works

	// Background WebSub pings.
	bg       context.Context
	bgCancel context.CancelFunc
	pings    sync.WaitGroup

	// hubBackoff is the first retry delay of WebSub pings (tests shorten it).
	hubBackoff time.Duration
	// afterScan, when set (tests), is called at the end of every scan.
	afterScan func(ScanResult, error)
}

// status is the daemon's latest state, as Health reports it.
type status struct {
	lastScan       time.Time
	lastOK         bool
	lastErr        string
	failingSince   time.Time
	nextRun        time.Time
	nextPostDue    time.Time
	postsPublished int
	scanned        bool
}

// New checks opts and returns a Daemon. It does not touch the database or
// the posts folder: Run and Scan do.
func New(opts Options) (*Daemon, error) {
	switch {
	case opts.Site == nil:
		return nil, errors.New("schedule: new daemon: nil Site")
	case opts.Feeds == nil:
		return nil, errors.New("schedule: new daemon: nil Feeds")
	case opts.Loader == nil:
		return nil, errors.New("schedule: new daemon: nil Loader")
	case opts.Store == nil:
		return nil, errors.New("schedule: new daemon: nil Store")
	}
	if err := opts.Schedule.Validate(); err != nil {
		return nil, err
	}
	d := &Daemon{
		opts:       opts,
		log:        opts.Logger,
		clock:      opts.Clock,
		loc:        opts.Site.Location(),
		client:     opts.HTTPClient,
		debounce:   opts.Debounce,
		grace:      opts.ShutdownGrace,
		watchdog:   opts.Watchdog,
		wake:       make(chan struct{}, 1),
		metaSent:   map[string]string{},
		feedBytes:  map[string]int{},
		durations:  newHistogram(),
		hubBackoff: hubBackoff,
		seed:       maphash.MakeSeed(),
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.clock == nil {
		d.clock = SystemClock()
	}
	if d.loc == nil {
		d.loc = time.UTC
	}
	if d.client == nil {
		d.client = &http.Client{Timeout: 30 * time.Second}
	}
	if d.debounce <= 0 {
		d.debounce = DefaultDebounce
	}
	if d.grace <= 0 {
		d.grace = DefaultShutdownGrace
	}
	if d.watchdog == 0 && opts.Notify != nil {
		d.watchdog = WatchdogInterval()
	}
	var err error
	if d.cron, err = parseSpec(opts.Schedule.Cron); err != nil {
		return nil, fmt.Errorf("schedule.cron: %w", err)
	}
	if opts.Schedule.Digest != "" {
		s, err := parseSpec(opts.Schedule.Digest)
		if err != nil {
			return nil, fmt.Errorf("schedule.digest: %w", err)
		}
		d.digest = &s
	}
	d.bg, d.bgCancel = context.WithCancel(context.Background())
	return d, nil
}

// Wake asks the running loop for a scan now (for example after `herald
// send` or a SIGHUP). It never blocks; wakes that arrive while a scan is
// pending are merged.
func (d *Daemon) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// NextRun returns the next cron tick after t, in the site's zone unless the
// spec names one.
func (d *Daemon) NextRun(t time.Time) time.Time { return d.cron.next(t.In(d.loc)) }

// Run scans at once, then runs the loop until ctx is cancelled. Then it lets
// the scan in flight finish (bounded by Options.ShutdownGrace), waits for the
// WebSub pings within the same bound, sends STOPPING=1 and returns nil. A
// failed scan is logged and reported by Health; it does not stop Run. Run
// may be called once.
func (d *Daemon) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("schedule: Run called twice")
	}
	var w *watcher
	if d.opts.PostsDir != "" {
		var err error
		if w, err = newWatcher(d.opts.PostsDir, d.log); err != nil {
			d.log.Warn("file watch unavailable; relying on the cron schedule", "err", err)
			w = nil
		} else {
			defer w.close()
		}
	}
	var events <-chan struct{}
	if w != nil {
		events = w.events
	}

	// The first scan, at once; the schedule starts when it is done.
	res, err := d.runScan(ctx)
	if w != nil {
		w.ensure()
	}
	now := d.clock.Now()
	cronNext := d.NextRun(now)
	d.setNextRun(cronNext)
	d.notify("READY=1\n" + statusLine(res, err))
	d.log.Info("daemon running", "cron", d.cron.text, "next_run", cronNext.Format(time.RFC3339))

	var digestNext time.Time
	if d.digest != nil {
		digestNext = d.digest.next(now.In(d.loc))
	}
	if d.watchdog > 0 {
		wdCtx, stop := context.WithCancel(ctx)
		defer stop()
		go d.watchdogLoop(wdCtx)
	}

	timer := d.clock.NewTimer(maxSleep)
	defer timer.Stop()
	var debounceAt, firstEvent time.Time
	for {
		now = d.clock.Now()
		deadline := cronNext
		for _, t := range []time.Time{d.nextPostDue(), debounceAt, digestNext} {
			if !t.IsZero() && t.Before(deadline) {
				deadline = t
			}
		}
		wait := min(deadline.Sub(now), maxSleep)
		timer.Reset(wait)
		d.mu.Lock()
		d.waitingUntil = now.Add(wait)
		d.mu.Unlock()

		woken := false
		select {
		case <-ctx.Done():
			d.shutdown()
			return nil
		case <-d.wake:
			woken = true
		case <-events:
			now = d.clock.Now()
			if debounceAt.IsZero() {
				firstEvent = now
			}
			debounceAt = now.Add(d.debounce)
			if limit := firstEvent.Add(maxDebounce); debounceAt.After(limit) {
				debounceAt = limit
			}
		case <-timer.C():
		}
		d.mu.Lock()
		d.waitingUntil = time.Time{}
		d.mu.Unlock()

		now = d.clock.Now()
		scan := woken
		if !now.Before(cronNext) {
			scan = true
			cronNext = d.NextRun(now)
			d.setNextRun(cronNext)
		}
		if due := d.nextPostDue(); !due.IsZero() && !now.Before(due) {
			scan = true
		}
		if !debounceAt.IsZero() && !now.Before(debounceAt) {
			scan = true
		}
		if scan {
			debounceAt = time.Time{} // the scan covers every event so far
			res, err := d.runScan(ctx)
			d.notify(statusLine(res, err))
			if w != nil {
				w.ensure()
			}
		}
		if !digestNext.IsZero() && !now.Before(digestNext) {
			d.runDigest(ctx, now)
			digestNext = d.digest.next(d.clock.Now().In(d.loc))
		}
	}
}

// shutdown is Run's exit: STOPPING=1, then the WebSub pings get the grace
// period.
func (d *Daemon) shutdown() {
	d.notify("STOPPING=1")
	ctx, cancel := context.WithTimeout(context.Background(), d.grace)
	defer cancel()
	if err := d.Flush(ctx); err != nil {
		d.log.Warn("WebSub pings cancelled at shutdown", "err", err)
	}
}

// Flush waits for the WebSub pings started by earlier scans. When ctx ends
// first it cancels them and returns ctx's error. `herald build` calls it
// before exiting.
func (d *Daemon) Flush(ctx context.Context) error {
	done := make(chan struct{})
	go func() { d.pings.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		d.bgCancel()
		<-done
		return fmt.Errorf("schedule: flush: %w", ctx.Err())
	}
}

// runScan runs one scan for the loop. The scan does not see ctx's
// cancellation at once: a shutdown lets it finish, cancelling it only after
// the grace period.
func (d *Daemon) runScan(ctx context.Context) (ScanResult, error) {
	scanCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(d.grace, cancel)
		context.AfterFunc(scanCtx, func() { t.Stop() })
	})
	defer stop()
	return d.Scan(scanCtx)
}

// runDigest calls the newsletter's Digest, logging its error.
func (d *Daemon) runDigest(ctx context.Context, now time.Time) {
	if d.opts.Newsletter == nil {
		return
	}
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(d.grace, cancel) })
	defer stop()
	func() {
		defer func() {
			if r := recover(); r != nil {
				d.log.Error("digest panicked", "panic", r, "stack", string(debug.Stack()))
			}
		}()
		if err := d.opts.Newsletter.Digest(dctx, now); err != nil {
			d.log.Error("digest failed", "err", err)
		}
	}()
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
	d.mu.Lock()
	d.scanningFrom = d.clock.Now()
	d.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			d.log.Error("scan panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("schedule: scan panicked: %v", r)
		}
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
			seen = append(seen, store.SeenPost{
				ID: p.ID, Path: p.Path, Slug: p.Slug, Title: p.Title, URL: p.URL, Hash: p.Hash,
				Date: p.Date, Due: due && (!announced || !k.AnnouncedAt.IsZero()),
			})
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
			res.Recorded = len(seen)
			res.Announced = rr.Announced
			res.Seeded = rr.Seeded
			d.remember(seen, rr, now)
			d.logAnnounced(rr)
		}
	}

	// Generate only when the due set (or a due post) changed.
	fp := fingerprint(d.seed, snap, now)
	if !d.published || fp != d.fp {
		out, gerr := feed.Generate(ctx, d.opts.Loader, d.opts.Site, d.opts.Feeds, snap, now)
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
// content hash (which covers its front matter: title, date, id) and whether
// it is due at now. It covers all posts, not only the due ones within
// feeds.limit, because a due post's rendered HTML may link to another post
// ({% post_url %}); a change outside the feeds costs one Generate whose
// identical bytes are not rewritten. A 64-bit maphash detects changes; it
// guards nothing.
func fingerprint(seed maphash.Seed, snap *feed.Snapshot, now time.Time) uint64 {
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
	}
	return h.Sum64()
}

// finishScan updates the status, metrics and meta after a scan.
func (d *Daemon) finishScan(ctx context.Context, res *ScanResult, err error) {
	now := d.clock.Now()
	d.mu.Lock()
	d.scanningFrom = time.Time{}
	d.scans++
	d.durations.observe(res.Duration.Seconds())
	d.st.scanned = true
	d.st.lastScan = now
	if err != nil {
		d.failures++
		d.st.lastOK = false
		d.st.lastErr = err.Error()
		if d.st.failingSince.IsZero() {
			d.st.failingSince = now
		}
	} else {
		d.st.lastOK = true
		d.st.lastErr = ""
		d.st.failingSince = time.Time{}
	}
	if res.snapshot {
		d.st.nextPostDue = res.NextPostDue
		d.st.postsPublished = res.Published
	} else {
		// Without a snapshot, the cron tick drives the next scan.
		d.st.nextPostDue = time.Time{}
	}
	d.announced += uint64(len(res.Announced))
	if res.Generated {
		clear(d.feedBytes)
		for _, f := range res.feeds {
			d.feedBytes[f.Name] = len(f.Data)
		}
	}
	st := d.st
	d.mu.Unlock()

	if err != nil {
		d.log.Error("scan failed", "err", err)
	} else {
		d.log.Debug("scan done", "posts", res.Posts, "published", res.Published, "recorded", res.Recorded,
			"announced", len(res.Announced), "generated", res.Generated, "took", res.Duration)
	}
	d.writeMeta(ctx, st, now)
}

// writeMeta persists the scan status for `herald status`: each key only
// when its value changed, last_scan_at also at least every metaHeartbeat.
func (d *Daemon) writeMeta(ctx context.Context, st status, now time.Time) {
	if ctx.Err() != nil {
		ctx = context.WithoutCancel(ctx)
	}
	vals := []struct{ k, v string }{
		{MetaLastScanOK, strconv.FormatBool(st.lastOK)},
		{MetaLastScanError, st.lastErr},
		{MetaPostsPublished, strconv.Itoa(st.postsPublished)},
	}
	changed := false
	for _, kv := range vals {
		if old, ok := d.metaSent[kv.k]; ok && old == kv.v {
			continue
		}
		changed = true
		if err := d.opts.Store.SetMeta(ctx, kv.k, kv.v); err != nil {
			d.log.Warn("saving scan status failed", "err", err)
			delete(d.metaSent, kv.k)
			return
		}
		d.metaSent[kv.k] = kv.v
	}
	if changed || d.metaAt.IsZero() || now.Sub(d.metaAt) >= metaHeartbeat || now.Before(d.metaAt) {
		if err := d.opts.Store.SetMeta(ctx, MetaLastScanAt, now.UTC().Format(time.RFC3339)); err != nil {
			d.log.Warn("saving scan status failed", "err", err)
			return
		}
		d.metaAt = now
	}
}

// setNextRun records the next cron tick for Health.
func (d *Daemon) setNextRun(t time.Time) {
	d.mu.Lock()
	d.st.nextRun = t
	d.mu.Unlock()
}

// nextPostDue is the exact timer's deadline: the date of the next
// future-dated post of the last successful scan, zero for none.
func (d *Daemon) nextPostDue() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.nextPostDue
}

// notify sends an sd_notify state when Options.Notify is set.
func (d *Daemon) notify(s string) {
	if d.opts.Notify != nil {
		d.opts.Notify(s)
	}
}

// statusLine is the STATUS= line after a scan.
func statusLine(res ScanResult, err error) string {
	if err != nil {
		return "STATUS=scan failed: " + oneLine(err.Error())
	}
	s := fmt.Sprintf("STATUS=%d posts published", res.Published)
	if !res.NextPostDue.IsZero() {
		s += "; next post due " + res.NextPostDue.Format(time.RFC3339)
	}
	return s
}

// oneLine keeps the first line of s (sd_notify states are newline-separated).
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// watchdogLoop sends WATCHDOG=1 every half watchdog interval while the
// daemon is healthy: no scan stuck for longer than stuckScan and scans not
// failing for longer than failingTooLong.
func (d *Daemon) watchdogLoop(ctx context.Context) {
	every := d.watchdog / 2
	t := d.clock.NewTimer(every)
	defer t.Stop()
	for {
		if d.watchdogHealthy(d.clock.Now()) {
			d.notify("WATCHDOG=1")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			t.Reset(every)
		}
	}
}

// watchdogHealthy reports whether a watchdog ping is due at now.
func (d *Daemon) watchdogHealthy(now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.scanningFrom.IsZero() && now.Sub(d.scanningFrom) > stuckScan {
		return false
	}
	if !d.st.failingSince.IsZero() && now.Sub(d.st.failingSince) > failingTooLong {
		return false
	}
	return true
}
