package schedule

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
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
	// MailSnapshot takes the newsletter's snapshot of each post being
	// announced (stored with the announcement); nil: announcements carry
	// none.
	MailSnapshot MailSnapshotter
	// SnapshotTimeout bounds how long a scan waits for a post's snapshot
	// (posts.render_timeout): a slower post is announced without one, so
	// that it does not hold back the scan; zero: feed.DefaultRenderTimeout.
	SnapshotTimeout time.Duration
	// MailPaused reports the newsletter worker's pause (false while it
	// sends) for /healthz, /metrics; nil: no worker.
	MailPaused func() (MailPause, bool)
	Clock      Clock        // nil: SystemClock()
	Logger     *slog.Logger // nil: discard
	HTTPClient *http.Client // for WebSub pings; nil: a client with a 30 s timeout
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
	// scanGrace: a scan running longer marks the daemon unhealthy
	// (schedule.scan_grace).
	scanGrace time.Duration

	wake    chan struct{}
	running atomic.Bool

	// Guarded by scanMu: scans are serialised.
	scanMu sync.Mutex
	known  map[string]store.PostState // the database's view of each post, kept current
	// announcedPaths holds the paths of announced posts: a post keeps its
	// file when its date (and with it its URL, the default id) moves.
	announcedPaths map[string]bool
	recorded       bool                  // Record ran at least once (it seeds a fresh database)
	seeded         bool                  // the database is known to be seeded (archiveBefore)
	seed           maphash.Seed          // of fingerprints
	fp             uint64                // fingerprint of the due set last published
	published      bool                  // fp is valid: feeds were generated and written
	problems       uint64                // fingerprint of the problems last logged
	problemsLogged bool                  // problems is valid
	metaSent       map[string]string     // meta values last written
	metaAt         time.Time             // when last_scan_at was last written
	etags          map[string]string     // feed ETags last published (Feeds.Dir "")
	stamps         map[string]feed.Stamp // when each served file's bytes last changed (MetaFeedStamps)
	stampsLoaded   bool                  // stamps were read from the store

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
		opts:      opts,
		log:       opts.Logger,
		clock:     opts.Clock,
		loc:       opts.Site.Location(),
		client:    opts.HTTPClient,
		debounce:  opts.Debounce,
		grace:     opts.ShutdownGrace,
		watchdog:  opts.Watchdog,
		wake:      make(chan struct{}, 1),
		metaSent:  map[string]string{},
		feedBytes: map[string]int{},
		durations: newHistogram(),
		seed:      maphash.MakeSeed(),
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
	if d.scanGrace = opts.Schedule.ScanGrace.Duration; d.scanGrace <= 0 {
		d.scanGrace = DefaultScanGrace
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
