package mailer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"herald/feed"
	"herald/mailer/bounce"
	"herald/schedule/store"
)

// Store is the part of the state database the newsletter worker uses
// (implemented by *sqlite.DB).
type Store interface {
	CreateMailings(ctx context.Context, now time.Time, digest bool) ([]int64, error)
	CreateManualMailings(ctx context.Context, now time.Time) ([]int64, error)
	UnexpandedMailings(ctx context.Context) ([]int64, error)
	Mailing(ctx context.Context, id int64) (store.Mailing, error)
	ExpandMailing(ctx context.Context, now time.Time, id int64) (int64, error)
	SkipMailing(ctx context.Context, now time.Time, id int64, reason string) error
	SetMailingWait(ctx context.Context, id int64, reason string, until time.Time) error
	ClaimDeliveries(ctx context.Context, now time.Time, lease store.Lease, limit int) ([]store.Delivery, error)
	RenewLeases(ctx context.Context, now time.Time, lease store.Lease) (int64, error)
	Ledger(ctx context.Context, owner string) (store.Ledger, error)
	ReleaseDeliveries(ctx context.Context, now time.Time, owner string, ids []int64) (int64, error)
	RequeueExpired(ctx context.Context, now time.Time) ([]store.Expired, error)
	RecordOutcomes(ctx context.Context, now time.Time, owner string, outcomes []store.Outcome) (int, error)
	SetMeta(ctx context.Context, key, value string) error
	NextRetry(ctx context.Context) (time.Time, error)
	WaitingDeliveries(ctx context.Context) (int64, error)
	// DryRun reads these: who `herald send POST` would reach.
	PostCandidates(ctx context.Context, postID string, fn func(store.Candidate) error) error
	Announcements(ctx context.Context, limit int) ([]store.Announcement, error)
	AnnouncementSnapshot(ctx context.Context, id int64) ([]byte, error)
	DeliveryStats(ctx context.Context, limit int) ([]store.MailingStats, error)
	// RecordBounce records a recipient's 5xx at send time (smtpBounce).
	RecordBounce(ctx context.Context, now time.Time, ev store.NewBounce, p store.BouncePolicy) (store.BounceEvent, error)
}

// Posts gives the mailer the posts it mails, by the ID the state database
// knows them by (feed.Post.ID). *feed.Loader implements it.
type Posts interface {
	// Post returns the post with that ID; an error wrapping
	// feed.ErrNotFound when it no longer exists.
	Post(ctx context.Context, id string) (*feed.Post, error)
	// Section renders the mailed section (mail.section) of p, its HTML
	// bounded to maxHTML bytes (mail.max_section; Truncated set when cut).
	Section(ctx context.Context, p *feed.Post, name string, maxHTML int) (*feed.Section, error)
}

// Options configures a Mailer. Config, PublicURL, Secret, DB and Posts are
// required; Composer and Transport are made from Config (and Site) when nil.
type Options struct {
	Config    *Config
	Site      *feed.Site
	PublicURL string // server.public_url: unsubscribe links are PublicURL + "/unsubscribe?token=…"
	Secret    []byte // signs unsubscribe tokens and Message-IDs (LoadSecret)
	// InstallID names this database in Message-IDs (LoadInstallID), so that
	// a new database with the same secret never repeats a Message-ID.
	InstallID string
	Digest    bool // schedule.digest is set: posts wait for Digest
	DB        Store
	Posts     Posts
	Composer  *Composer
	Transport Transport
	Clock     TimerClock   // nil: the system clock
	Logger    *slog.Logger // default: discard
	// ProgressEvery is how often a long delivery pass logs its progress
	// (sent/total, rate, ETA), by Clock; 0: DefaultProgressEvery; < 0:
	// never (`herald send` draws a progress bar on a terminal instead).
	ProgressEvery time.Duration
}

// Mailer is the newsletter's delivery worker and the commands around it
// (preview, test send, dry run). Safe for concurrent use; run one Run per
// process.
type Mailer struct {
	cfg       *Config
	site      *feed.Site
	publicURL string
	secret    []byte
	installID string
	digest    bool
	db        Store
	posts     Posts
	composer  *Composer
	transport Transport
	clock     TimerClock
	now       func() time.Time
	log       *slog.Logger
	idDomain  string       // right-hand side of Message-IDs: the From domain
	verp      *bounce.VERP // nil without mail.bounce_address
	lease     store.Lease  // this Mailer's hold on the deliveries it claims (one owner per Mailer)

	wake  chan struct{}
	pacer *pacer
	// dbmu serialises this process's ledger writes (no SQLite lock
	// contention between workers); a store whose writers never contend
	// (ConcurrentWriters: PostgreSQL) gets no lock.
	dbmu sync.Locker

	heldMu sync.Mutex
	held   []store.Outcome // outcomes of sends not recorded yet: the ledger could not be written
	// heldRelease: deliveries claimed but not sent, whose release failed
	// (the ledger could not be written); released by flushHeld.
	heldRelease []int64
	pause       atomic.Pointer[Pause]

	// Tunables; tests shorten them.
	backoff          func(attempt int) time.Duration // delay before retry number attempt (1-based)
	shutdownGrace    time.Duration                   // how long in-flight sends may finish after ctx is canceled
	idleRecheck      time.Duration                   // Run re-checks the queue this often when nothing is due
	progressEvery    time.Duration                   // how often a pass logs its progress; <= 0: never
	unreachablePause time.Duration                   // first pause of Run when the server cannot be reached or the ledger written (doubles, up to 16×)
	probeEvery       time.Duration                   // during a pause, how often Run probes whether it can resume

	waitMu sync.Mutex
	waits  map[int64]postWait // mailings waiting for a post that cannot be read, by mailing id
	// unreadableRetry is the first delay before a mailing whose post cannot
	// be read is tried again (doubling, up to 150×).
	unreadableRetry time.Duration

	sent, failed, retries atomic.Int64 // metrics, since start
	waiting               atomic.Int64 // last known unfinished deliveries
	current               atomic.Pointer[tally]
}

// New checks opts and returns a Mailer.
func New(opts Options) (*Mailer, error) {
	switch {
	case opts.Config == nil:
		return nil, errors.New("mailer: new: no Config")
	case opts.DB == nil:
		return nil, errors.New("mailer: new: no DB")
	case opts.Posts == nil:
		return nil, errors.New("mailer: new: no Posts")
	case len(opts.Secret) < minSecretLen:
		return nil, fmt.Errorf("mailer: new: secret is %d bytes, want at least %d (LoadSecret)", len(opts.Secret), minSecretLen)
	}
	pub := strings.TrimRight(strings.TrimSpace(opts.PublicURL), "/")
	if _, err := checkUnsubscribeURL(pub + "/unsubscribe"); err != nil {
		return nil, fmt.Errorf("mailer: server.public_url must be an absolute http(s) URL (every newsletter carries an unsubscribe link under it), got %q", opts.PublicURL)
	}
	m := &Mailer{
		cfg: opts.Config, site: opts.Site, publicURL: pub, secret: opts.Secret, installID: opts.InstallID, digest: opts.Digest,
		db: opts.DB, posts: opts.Posts, composer: opts.Composer, transport: opts.Transport,
		clock: orSystem(opts.Clock), log: opts.Logger,
		wake:             make(chan struct{}, 1),
		backoff:          defaultBackoff,
		shutdownGrace:    30 * time.Second,
		idleRecheck:      5 * time.Minute,
		unreachablePause: time.Minute,
		probeEvery:       10 * time.Second,
	}
	m.now = m.clock.Now
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case opts.ProgressEvery == 0:
		m.progressEvery = DefaultProgressEvery
	case opts.ProgressEvery > 0:
		m.progressEvery = opts.ProgressEvery
	}
	if m.composer == nil {
		if opts.Site == nil {
			return nil, errors.New("mailer: new: no Composer and no Site to make one")
		}
		c, err := NewComposer(opts.Config, opts.Site, m.clock)
		if err != nil {
			return nil, err
		}
		m.composer = c
	}
	if m.transport == nil {
		t, err := NewTransport(opts.Config, m.log)
		if err != nil {
			return nil, err
		}
		m.transport = t
	}
	from := m.composer.From().Address
	m.idDomain = from[strings.LastIndexByte(from, '@')+1:]
	if err := m.initVERP(); err != nil {
		return nil, err
	}
	m.dbmu = &sync.Mutex{}
	if c, ok := opts.DB.(concurrentWriters); ok && c.ConcurrentWriters() {
		m.dbmu = noLock{}
	}
	m.pacer = newPacer(m.clock, opts.Config.SMTP.Rate, 30*time.Second)
	m.lease = store.Lease{Owner: newOwner(), For: opts.Config.Lease.Duration}
	if m.lease.For <= 0 {
		m.lease.For = DefaultLease
	}
	return m, nil
}

// concurrentWriters is a store whose writers may run at once without
// contending for one lock (PostgreSQL's row locks): the mailer then claims
// and records its outcomes concurrently.
type concurrentWriters interface{ ConcurrentWriters() bool }

// noLock is the sync.Locker of a store with concurrent writers.
type noLock struct{}

func (noLock) Lock()   {}
func (noLock) Unlock() {}

// newOwner names a worker generation for its leases: "host:pid:random",
// unique among the processes that share a database.
func newOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Owner names this Mailer in the ledger: the claimed_by of the deliveries
// it has in flight.
func (m *Mailer) Owner() string { return m.lease.Owner }

// ShareRate tells the mailer that n daemons (this one included) send to the
// same list: each keeps to mail.smtp.rate / n, so the configured rate holds
// for the whole cluster. The heartbeat calls it with the live count.
func (m *Mailer) ShareRate(n int) { m.pacer.share(n) }

// Wake makes Run look at the queue now (the daemon calls it after recording
// new announcements). It never blocks.
func (m *Mailer) Wake() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Digest is the digest tick: it puts every announcement waiting for the
// digest into one digest mailing (nothing when none waits: no empty mail)
// and wakes Run to deliver it.
func (m *Mailer) Digest(ctx context.Context, now time.Time) error {
	ids, err := m.db.CreateMailings(ctx, now, true)
	if err != nil {
		return fmt.Errorf("mailer: digest: %w", err)
	}
	if len(ids) == 0 {
		m.log.Debug("digest: no post waits, no mail")
		return nil
	}
	m.log.Info("digest mailing created", "mailings", ids)
	m.Wake()
	return nil
}

// Metrics writes the mailer's counters in the Prometheus text format.
func (m *Mailer) Metrics(w io.Writer) {
	fmt.Fprintf(w, "# HELP herald_mail_sent_total Newsletter messages accepted by the mail server (or written to the maildir).\n"+
		"# TYPE herald_mail_sent_total counter\nherald_mail_sent_total %d\n", m.sent.Load())
	fmt.Fprintf(w, "# HELP herald_mail_failed_total Newsletter deliveries that failed for good.\n"+
		"# TYPE herald_mail_failed_total counter\nherald_mail_failed_total %d\n", m.failed.Load())
	fmt.Fprintf(w, "# HELP herald_mail_retries_total Newsletter deliveries scheduled for another attempt.\n"+
		"# TYPE herald_mail_retries_total counter\nherald_mail_retries_total %d\n", m.retries.Load())
	fmt.Fprintf(w, "# HELP herald_mail_pending Newsletter deliveries not finished yet (pending, sending or waiting to retry).\n"+
		"# TYPE herald_mail_pending gauge\nherald_mail_pending %d\n", m.waiting.Load())
}
