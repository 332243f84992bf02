package mailer

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
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
	pause  atomic.Pointer[Pause]

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

// unsubscribeURL is the per-subscriber one-click unsubscribe link. Its
// token never expires.
func (m *Mailer) unsubscribeURL(subscriberID int64) string {
	if subscriberID <= 0 {
		return m.publicURL + "/unsubscribe?" + testLinkParam
	}
	return m.publicURL + "/unsubscribe?token=" + Token(m.secret, PurposeUnsubscribe, subscriberID, time.Time{})
}

// testLinkParam marks the unsubscribe link of a mail to an address that is
// no subscriber (herald send -to, herald preview): the page it opens says
// so instead of "This link is not valid".
const testLinkParam = "test"

// messageID is the Message-ID (without <>) of a preview or test message
// ("herald.KIND.A.INSTALL.MAC@domain"); mailingMessageID that of a mailing's
// message to a subscriber.
func (m *Mailer) messageID(kind string, a, b int64) string {
	return "herald." + kind + "." + strconv.FormatInt(a, 10) + "." + m.install() + "." +
		messageIDMAC(m.secret, kind, a, b, "", m.install()) + "@" + m.idDomain
}

// mailingMessageID is the Message-ID (without <>) of mailing's message to
// subscriber: "herald.MAILING.SUBSCRIBER.POSTS.INSTALL.MAC@domain", where
// POSTS is a hash of the mailing's post ids (postsKey) and INSTALL the
// database's install id. Deterministic, so a message re-sent after a crash
// carries the same Message-ID (and receivers may drop the duplicate); it
// never repeats for another post or another database, also when a database
// is reset and its mailing and subscriber ids start again at 1 with the
// same secret (receivers that drop duplicate Message-IDs would drop the new
// newsletter). The MAC (keyed with the secret) lets bounce processing
// trust the ids it reads back (matchMessageID).
func (m *Mailer) mailingMessageID(mailing, subscriber int64, posts string) string {
	return "herald." + strconv.FormatInt(mailing, 10) + "." + strconv.FormatInt(subscriber, 10) + "." + posts + "." +
		m.install() + "." + messageIDMAC(m.secret, "mailing", mailing, subscriber, posts, m.install()) + "@" + m.idDomain
}

// install is the install id as it appears in Message-IDs.
func (m *Mailer) install() string {
	if m.installID == "" {
		return "0"
	}
	return m.installID
}

// messageIDMAC is the 8 hex digits that sign a Message-ID's parts.
func messageIDMAC(secret []byte, kind string, a, b int64, posts, install string) string {
	h := hmac.New(sha256.New, secret)
	fmt.Fprintf(h, "message-id|%s|%d|%d|%s|%s", kind, a, b, posts, install)
	return hex.EncodeToString(h.Sum(nil)[:4])
}

// postsKey is 8 hex digits of a hash of a mailing's post ids.
func postsKey(posts []store.MailingPost) string {
	h := sha256.New()
	for _, p := range posts {
		h.Write([]byte(p.PostID))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:4])
}

// errUnreadable marks a mailing one of whose posts cannot be found or
// read right now (being edited, renamed, its front matter briefly
// invalid): a temporary condition. The mailing waits (unexpanded, or its
// deliveries put off without failing) until the post can be read again,
// for at most mail.retry_for after the mailing was queued.
type errUnreadable struct {
	post string
	err  error
}

func (e *errUnreadable) Error() string { return "post " + e.post + " cannot be read: " + e.err.Error() }
func (e *errUnreadable) Unwrap() error { return e.err }

// unreadableFor is how long a mailing waits for a post that cannot be read
// before it is skipped: mail.retry_for.
func (m *Mailer) unreadableFor() time.Duration {
	if d := m.cfg.RetryFor.Duration; d > 0 {
		return d
	}
	return 72 * time.Hour
}

// errSkip marks a mailing that sends nothing; its text is the reason.
type errSkip string

func (e errSkip) Error() string { return string(e) }

// mailPosts loads the posts of a mailing and renders their sections, in the
// mailing's (date) order. Posts with `newsletter: false` and posts that no
// longer exist are left out; when none is left it returns an errSkip.
func (m *Mailer) mailPosts(ctx context.Context, ml store.Mailing) ([]PostMail, error) {
	var (
		out     []PostMail
		reasons []string
	)
	for _, mp := range ml.Posts {
		if mp.Snapshot != nil {
			// Announced with a snapshot: mailed as it was announced,
			// whatever the posts folder holds now.
			s, err := decodeSnapshot(mp.Snapshot)
			if err == nil {
				if s.Skip != "" {
					reasons = append(reasons, s.Skip)
					continue
				}
				out = append(out, s.postMail())
				continue
			}
			m.log.Warn("mailing: the post's snapshot cannot be read; reading the post instead", "mailing", ml.ID, "post", mp.PostID, "err", err)
		}
		p, err := m.posts.Post(ctx, mp.PostID)
		if err != nil && ctx.Err() == nil && m.now().Sub(ml.CreatedAt) < m.unreadableFor() {
			// Perhaps being edited, renamed or briefly invalid: wait for it.
			return nil, &errUnreadable{post: cmp.Or(mp.Path, mp.PostID), err: err}
		}
		if errors.Is(err, feed.ErrNotFound) {
			m.log.Warn("mailing: post no longer exists, left out", "mailing", ml.ID, "post", mp.PostID, "path", mp.Path)
			reasons = append(reasons, "post "+mp.PostID+" no longer exists (could not be read since the mailing was queued, "+m.unreadableFor().String()+")")
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("mailer: mailing %d: post %s: %w", ml.ID, mp.PostID, err)
		}
		if !p.Newsletter {
			reasons = append(reasons, "newsletter: false in "+p.Path)
			continue
		}
		sec, err := m.posts.Section(ctx, p, m.cfg.Section, int(m.cfg.MaxSection))
		if errors.Is(err, feed.ErrNoSection) {
			// Nothing to mail, and no retry will find something: decided
			// once, the post is left out (the mailing skipped when it was
			// the only one), never retried pass after pass.
			m.log.Warn("mailing: post has nothing to mail, left out", "mailing", ml.ID, "post", mp.PostID, "path", p.Path, "section", m.cfg.Section)
			reasons = append(reasons, noSectionReason(p.Path, m.cfg.Section))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("mailer: mailing %d: section of %s: %w", ml.ID, p.Path, err)
		}
		out = append(out, PostMail{Title: p.Title, URL: p.URL, Date: p.Date, Section: sec})
	}
	if len(out) == 0 {
		if len(reasons) == 0 {
			reasons = append(reasons, "no posts")
		}
		return nil, errSkip(strings.Join(reasons, "; "))
	}
	return out, nil
}

// preparePost renders the newsletter of one post, for Preview, SendTest and
// DryRun (which ignore `newsletter: false`, reporting it instead).
func (m *Mailer) preparePost(ctx context.Context, postID string) (*feed.Post, *Prepared, error) {
	p, err := m.posts.Post(ctx, postID)
	if err != nil {
		return nil, nil, fmt.Errorf("mailer: post %s: %w", postID, err)
	}
	sec, err := m.posts.Section(ctx, p, m.cfg.Section, int(m.cfg.MaxSection))
	if err != nil {
		return nil, nil, fmt.Errorf("mailer: section of %s: %w", p.Path, err)
	}
	prep, err := m.composer.Prepare([]PostMail{{Title: p.Title, URL: p.URL, Date: p.Date, Section: sec}})
	if err != nil {
		return nil, nil, err
	}
	return p, prep, nil
}

// postKey is a short stable number for a post id (Message-IDs of previews).
func postKey(id string) int64 {
	s := sha256.Sum256([]byte(id))
	var n int64
	for _, b := range s[:7] {
		n = n<<8 | int64(b)
	}
	return n
}

// A Preview is the newsletter of one post as a sample subscriber gets it:
// the complete message and its two bodies, decoded.
type Preview struct {
	*Message
	Text string // the text/plain body
	HTML string // the text/html body
}

// Preview returns the complete message a subscriber would get for post
// postID, addressed to a sample subscriber (site.email, else
// "subscriber@" the From domain) with a sample unsubscribe link, and its
// bodies. It ignores `newsletter: false`.
func (m *Mailer) Preview(ctx context.Context, postID string) (*Preview, error) {
	_, prep, err := m.preparePost(ctx, postID)
	if err != nil {
		return nil, err
	}
	to := "subscriber@" + m.idDomain
	if m.site != nil && m.site.Email != "" {
		if e, _, err := ParseAddress(m.site.Email); err == nil {
			to = e
		}
	}
	r := Recipient{Email: to, UnsubscribeURL: m.unsubscribeURL(0)}
	msg, err := prep.Message(r, m.messageID("preview", postKey(postID), 0))
	if err != nil {
		return nil, err
	}
	text, html, err := prep.Parts(r)
	if err != nil {
		return nil, err
	}
	return &Preview{Message: msg, Text: text, HTML: html}, nil
}

// subscriberLookup is what SendTest uses, when the store has it, to give a
// test mail to a subscriber their own unsubscribe link.
type subscriberLookup interface {
	Subscriber(ctx context.Context, email string) (store.Subscriber, error)
}

// SendTest sends post postID's newsletter to addr only, now, through the
// configured transport. Nothing is recorded: it is not a delivery and addr
// need not be a subscriber. When addr is a subscriber, its unsubscribe link
// is theirs (and works); otherwise it belongs to no subscriber.
func (m *Mailer) SendTest(ctx context.Context, postID, addr string) error {
	email, name, err := ParseAddress(addr)
	if err != nil {
		return err
	}
	_, prep, err := m.preparePost(ctx, postID)
	if err != nil {
		return err
	}
	var subID int64
	if sl, ok := m.db.(subscriberLookup); ok {
		if s, err := sl.Subscriber(ctx, email); err == nil {
			subID = s.ID
		}
	}
	msg, err := prep.Message(Recipient{Email: email, Name: name, UnsubscribeURL: m.unsubscribeURL(subID)},
		m.messageID("test", postKey(postID), m.now().UnixNano()))
	if err != nil {
		return err
	}
	conn, err := m.transport.Open(ctx)
	if err != nil {
		return fmt.Errorf("mailer: test send to %s: %w", email, err)
	}
	if err := conn.Send(ctx, msg); err != nil {
		conn.Close()
		return fmt.Errorf("mailer: test send to %s: %w", email, err)
	}
	if err := conn.Close(); err != nil {
		m.log.Warn("test send: closing connection", "err", err)
	}
	m.log.Info("test message sent", "post", postID, "to", email, "message_id", msg.ID())
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
