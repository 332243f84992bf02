package mailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"herald/feed/testkit"
	"herald/mailer/smtptest"

	"herald/feed"
	"herald/schedule/store"
	"herald/schedule/store/sqlite"
)

// fixedPosts is test data standing in for the posts folder: posts by ID,
// each with its rendered section.
type fixedPosts struct {
	mu       sync.Mutex
	posts    map[string]*feed.Post
	sections map[string]*feed.Section
}

func (f *fixedPosts) Post(ctx context.Context, id string) (*feed.Post, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.posts[id]
	if !ok {
		return nil, fmt.Errorf("feed: post %q: %w", id, feed.ErrNotFound)
	}
	cp := *p
	return &cp, nil
}

func (f *fixedPosts) Section(ctx context.Context, p *feed.Post, name string, maxHTML int) (*feed.Section, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sections[p.ID]
	if !ok {
		return nil, fmt.Errorf("no section for %s", p.ID)
	}
	return s, nil
}

// testEnv is a database file, an SMTP server and posts.
type testEnv struct {
	ctx    context.Context
	dbPath string
	db     *sqlite.DB
	srv    *smtptest.Server
	cfg    Config
	posts  *fixedPosts
	clock  *testkit.Clock
	secret []byte
}

var workerT0 = time.Date(2024, 6, 3, 8, 0, 0, 0, time.UTC)

func workerSite() *feed.Site {
	return &feed.Site{Title: "Test Blog", URL: "https://blog.example.com", Language: "en", Timezone: "UTC", Email: "owner@example.com"}
}

func newTestEnv(t testing.TB, opts smtptest.Options) *testEnv {
	t.Helper()
	return newTestEnvAt(t, opts, filepath.Join(t.TempDir(), "herald.db"))
}

// newTestEnvAt is newTestEnv with the database at dbPath.
func newTestEnvAt(t testing.TB, opts smtptest.Options, dbPath string) *testEnv {
	t.Helper()
	e := &testEnv{
		ctx:    context.Background(),
		dbPath: dbPath,
		srv:    smtptest.New(t, opts),
		posts:  &fixedPosts{posts: map[string]*feed.Post{}, sections: map[string]*feed.Section{}},
		clock:  testkit.NewClock(workerT0),
		secret: []byte("0123456789abcdef0123456789abcdef"),
	}
	db, err := sqlite.Open(e.ctx, e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	e.cfg = smtpConfig(t, e.srv)
	e.cfg.SMTP.Concurrency = 2
	// The first run, long before the test posts: they are new, not archive.
	if _, err := db.Record(e.ctx, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), nil, false); err != nil {
		t.Fatal(err)
	}
	return e
}

// mailer returns a Mailer over the environment, with retries due at once
// (no backoff) and a short shutdown grace.
func (e *testEnv) mailer(t testing.TB, mutate func(*Options)) *Mailer {
	t.Helper()
	cfg := e.cfg
	opts := Options{
		Config: &cfg, Site: workerSite(), PublicURL: "https://blog.example.com/herald/",
		Secret: e.secret, DB: e.db, Posts: e.posts, Transport: smtpTransport(t, e.srv, cfg), Clock: fakeClock{e.clock},
	}
	if mutate != nil {
		mutate(&opts)
	}
	m, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	m.backoff = func(int) time.Duration { return 0 }
	m.shutdownGrace = 5 * time.Second
	return m
}

// addPost makes a post (title, date, newsletter flag) with a TLDR section.
func (e *testEnv) addPost(id string, date time.Time, newsletter bool) {
	e.posts.mu.Lock()
	defer e.posts.mu.Unlock()
	e.posts.posts[id] = &feed.Post{
		ID: id, Path: "_posts/" + id + ".md", Title: "Title of " + id, Slug: id,
		URL: "https://blog.example.com/" + id + "/", Date: date, Published: true, Newsletter: newsletter,
	}
	e.posts.sections[id] = &feed.Section{
		Heading: "5. TLDR",
		HTML:    "<p>TLDR of " + id + ": <strong>short</strong>.</p>",
		Text:    "TLDR of " + id + ": short.",
	}
}

// announce records the posts as newly due now (queued for mail).
func (e *testEnv) announce(t testing.TB, ids ...string) {
	t.Helper()
	var seen []store.SeenPost
	for _, id := range ids {
		p := e.posts.posts[id]
		seen = append(seen, store.SeenPost{ID: id, Path: p.Path, Slug: p.Slug, Title: p.Title, URL: p.URL,
			Hash: "h" + id, Date: p.Date, Due: true})
	}
	res, err := e.db.Record(e.ctx, e.clock.Now(), seen, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Announced) != len(ids) {
		t.Fatalf("announced %d posts, want %d", len(res.Announced), len(ids))
	}
}

// subscribe adds confirmed subscribers sub000@example.com… and returns them.
func (e *testEnv) subscribe(t testing.TB, prefix string, n int, status store.SubscriberStatus) []string {
	t.Helper()
	var out []string
	for i := range n {
		addr := fmt.Sprintf("%s%03d@example.com", prefix, i)
		if _, _, err := e.db.AddSubscriber(e.ctx, e.clock.Now(), addr, "", status, store.SourceCLI); err != nil {
			t.Fatal(err)
		}
		out = append(out, addr)
	}
	return out
}

func drain(t testing.TB, m *Mailer) Summary {
	t.Helper()
	s, err := m.Drain(context.Background())
	if err != nil {
		t.Fatalf("Drain: %v", err)
	}
	return s
}

func (e *testEnv) counts(t testing.TB) store.DeliveryCounts {
	t.Helper()
	c, err := e.db.CountDeliveries(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// exactlyOnce checks that each of addrs got exactly one message and that
// nobody else got any.
func (e *testEnv) exactlyOnce(t testing.TB, addrs []string) {
	t.Helper()
	for _, a := range addrs {
		if n := e.srv.Count(a); n != 1 {
			t.Errorf("%s got %d messages, want 1", a, n)
		}
	}
	if got := e.srv.Delivered(); got != len(addrs) {
		t.Errorf("server accepted %d messages, want %d", got, len(addrs))
	}
}

// parseMessage parses raw and returns its headers and text and HTML parts.
func parseMessage(t testing.TB, raw []byte) (mail.Header, string, string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse message: %v", err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type: %v", err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var text, html string
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p) // quoted-printable is decoded by NextPart
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			text = string(b)
		} else {
			html = string(b)
		}
	}
	return msg.Header, text, html
}

func TestDeliverOnePost(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{RequireAuth: true})
	confirmed := e.subscribe(t, "sub", 5, store.StatusConfirmed)
	e.subscribe(t, "pending", 2, store.StatusPending)
	e.subscribe(t, "gone", 2, store.StatusUnsubscribed)
	e.addPost("p1", workerT0.Add(-time.Hour), true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p1")
	e.clock.Advance(time.Second)
	e.subscribe(t, "late", 1, store.StatusConfirmed) // after the announcement: not a recipient

	m := e.mailer(t, nil)
	s := drain(t, m)
	if s.Sent != 5 || s.Failed != 0 || s.Retried != 0 || s.Mailings != 1 || s.Queued != 5 || s.Waiting != 0 {
		t.Errorf("summary = %+v, want 5 sent in 1 mailing", s)
	}
	e.exactlyOnce(t, confirmed)
	if c := e.counts(t); c != (store.DeliveryCounts{Sent: 5}) {
		t.Errorf("ledger = %+v, want 5 sent", c)
	}

	idRE := regexp.MustCompile(`^<herald\.\d+\.\d+\.[0-9a-f]{8}\.[0-9a-f]+\.[0-9a-f]{8}@example\.com>$`)
	ids := map[string]bool{}
	for _, msg := range e.srv.Messages() {
		if !msg.TLS || msg.User != "user" {
			t.Errorf("message to %v: TLS=%v user=%q, want STARTTLS and AUTH", msg.To, msg.TLS, msg.User)
		}
		h, text, html := parseMessage(t, msg.Data)
		if got := h.Get("To"); got != msg.To[0] && !strings.Contains(got, "<"+msg.To[0]+">") {
			t.Errorf("To = %q, envelope %v", got, msg.To)
		}
		mid := h.Get("Message-ID")
		if !idRE.MatchString(mid) || ids[mid] {
			t.Errorf("Message-ID %q: bad form or repeated", mid)
		}
		ids[mid] = true
		if !strings.Contains(text, "TLDR of p1") || !strings.Contains(html, "<strong>short</strong>") {
			t.Errorf("message to %v lacks the TLDR:\n%s", msg.To, text)
		}
		// The unsubscribe link names this subscriber.
		lu := h.Get("List-Unsubscribe")
		i := strings.Index(lu, "https://blog.example.com/herald/unsubscribe?token=")
		if i < 0 {
			t.Fatalf("List-Unsubscribe = %q", lu)
		}
		u, err := url.Parse(strings.SplitN(lu[i:], ">", 2)[0])
		if err != nil {
			t.Fatal(err)
		}
		id, err := ParseToken(e.secret, PurposeUnsubscribe, u.Query().Get("token"), workerT0.AddDate(10, 0, 0))
		if err != nil {
			t.Fatalf("unsubscribe token: %v", err)
		}
		sub, err := e.db.SubscriberByID(e.ctx, id)
		if err != nil || sub.Email != msg.To[0] {
			t.Errorf("token of the message to %v names subscriber %d (%s, %v)", msg.To, id, sub.Email, err)
		}
	}

	// Nothing is sent twice: again, and after a restart.
	if s := drain(t, m); s.Sent != 0 || s.Queued != 0 {
		t.Errorf("second Drain = %+v, want nothing", s)
	}
	m2 := e.mailer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m2.Run(ctx) }()
	m2.Wake()
	waitFor(t, "the restarted worker's first pass", func() bool { return m2.Progress() != Summary{} || e.srv.Delivered() > 5 }, 300*time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	e.exactlyOnce(t, confirmed)
}

// waitFor polls cond until it holds or d passes; a timeout is not an error
// when the condition is "nothing happened" (callers check afterwards).
// waitTimer waits (up to 10 s) until a timer is armed on the test clock:
// Run has finished its pass and sleeps (between passes, or paused), so the
// clock can be moved past its wake-up.
func (e *testEnv) waitTimer(t testing.TB) {
	t.Helper()
	if !waitFor(t, "a timer", func() bool { return e.clock.Timers() > 0 }, 10*time.Second) {
		t.Fatal("nothing waits on the clock")
	}
}

// runClock moves the test clock on by 1 ms every real millisecond until
// the test ends: for the tests that race real events (a disk filling up
// mid-send) against the worker's waits.
func (e *testEnv) runClock(t testing.TB) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				e.clock.Advance(time.Millisecond)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

func waitFor(t testing.TB, what string, cond func() bool, d time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

func TestRetryTemporaryThenSent(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{Fail4xx: map[string]int{"sub001@example.com": 2}})
	subs := e.subscribe(t, "sub", 3, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p")

	m := e.mailer(t, nil)
	var attempts []int
	m.backoff = func(a int) time.Duration { attempts = append(attempts, a); return 0 }
	s := drain(t, m)
	if s.Sent != 3 || s.Retried != 2 || s.Failed != 0 {
		t.Errorf("summary = %+v, want 3 sent after 2 retries", s)
	}
	if !slices.Equal(attempts, []int{1, 2}) {
		t.Errorf("backoff asked for attempts %v, want [1 2]", attempts)
	}
	e.exactlyOnce(t, subs)
	var buf bytes.Buffer
	m.Metrics(&buf)
	for _, want := range []string{"herald_mail_sent_total 3\n", "herald_mail_retries_total 2\n", "herald_mail_failed_total 0\n", "herald_mail_pending 0\n", "# TYPE herald_mail_pending gauge\n"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("Metrics lacks %q:\n%s", want, buf.String())
		}
	}
}

// With the real backoff the retry waits: Drain leaves it, and the next
// attempt is due later.
func TestRetryWaitsForBackoff(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{Fail4xx: map[string]int{"sub000@example.com": 1}})
	e.subscribe(t, "sub", 1, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p")
	m := e.mailer(t, nil)
	m.backoff = defaultBackoff
	if s := drain(t, m); s.Retried != 1 || s.Waiting != 1 || s.Sent != 0 {
		t.Fatalf("summary = %+v, want one retry waiting", s)
	}
	next, err := e.db.NextRetry(e.ctx)
	if d := next.Sub(e.clock.Now()); err != nil || d < time.Minute-time.Second || d > 75*time.Second {
		t.Errorf("next retry in %v (%v), want 1m to 1m15s", d, err)
	}
	if s := drain(t, m); s.Sent != 0 {
		t.Errorf("Drain before the retry time sent %d", s.Sent)
	}
	e.clock.Advance(2 * time.Minute)
	if s := drain(t, m); s.Sent != 1 {
		t.Errorf("Drain after the retry time = %+v, want 1 sent", s)
	}
}

func TestPermanentFailureDoesNotStopOthers(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{Fail5xx: map[string]bool{"sub002@example.com": true}})
	subs := e.subscribe(t, "sub", 6, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p")
	m := e.mailer(t, nil)
	m.cfg.SMTP.Concurrency = 1 // one connection: the 550 must not break it
	s := drain(t, m)
	if s.Sent != 5 || s.Failed != 1 {
		t.Errorf("summary = %+v, want 5 sent, 1 failed", s)
	}
	for _, a := range subs {
		want := 1
		if a == "sub002@example.com" {
			want = 0
		}
		if got := e.srv.Count(a); got != want {
			t.Errorf("%s got %d, want %d", a, got, want)
		}
	}
	if n := e.srv.Conns(); n != 1 {
		t.Errorf("connections = %d, want 1 (reused after the 550)", n)
	}
	failed, err := e.db.FailedDeliveries(e.ctx, 10)
	if err != nil || len(failed) != 1 {
		t.Fatalf("FailedDeliveries = %+v, %v", failed, err)
	}
	if f := failed[0]; f.Email != "sub002@example.com" || f.Code != 550 || !strings.Contains(f.Error, "no such user") || f.Attempts != 1 {
		t.Errorf("failed delivery = %+v", f)
	}
}

func TestRetriesExhausted(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{Fail4xx: map[string]int{"sub000@example.com": 100}})
	e.subscribe(t, "sub", 1, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p")
	m := e.mailer(t, nil)
	m.cfg.MaxAttempts = 3
	s := drain(t, m)
	if s.Failed != 1 || s.Retried != 2 {
		t.Errorf("summary = %+v, want 2 retries then failed", s)
	}
	failed, _ := e.db.FailedDeliveries(e.ctx, 1)
	if len(failed) != 1 || failed[0].Code != 451 || !strings.Contains(failed[0].Error, "gave up after 3 attempts") {
		t.Errorf("failed = %+v", failed)
	}

	// mail.retry_for: a retry that would fall outside the window fails.
	e.addPost("q", workerT0, true)
	e.announce(t, "q")
	m.cfg.MaxAttempts = 100
	m.cfg.RetryFor.Duration = time.Hour
	m.backoff = func(int) time.Duration { return 2 * time.Hour }
	if s := drain(t, m); s.Failed != 1 || s.Retried != 0 {
		t.Errorf("retry_for: summary = %+v, want failed at once", s)
	}
}

func TestConnectionDroppedMidData(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{DropData: map[string]int{"sub000@example.com": 1, "sub003@example.com": 1}})
	subs := e.subscribe(t, "sub", 6, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p")
	m := e.mailer(t, nil)
	m.cfg.SMTP.Concurrency = 1
	s := drain(t, m)
	if s.Sent != 6 || s.Failed != 0 {
		t.Errorf("summary = %+v, want 6 sent", s)
	}
	e.exactlyOnce(t, subs)
	// sub000 is the first message of a fresh connection: a counted retry.
	// sub003 broke a connection that had carried messages: re-dialled and
	// re-sent at once.
	if s.Retried != 1 {
		t.Errorf("retries = %d, want 1", s.Retried)
	}
	if n := e.srv.Conns(); n < 3 {
		t.Errorf("connections = %d, want at least 3 (re-dialled after each drop)", n)
	}
}

func TestRedialAfter421PerConnection(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{MaxPerConn: 3})
	subs := e.subscribe(t, "sub", 10, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p")
	m := e.mailer(t, nil)
	m.cfg.SMTP.Concurrency = 1
	s := drain(t, m)
	if s.Sent != 10 || s.Retried != 0 || s.Failed != 0 {
		t.Errorf("summary = %+v, want 10 sent without retries", s)
	}
	e.exactlyOnce(t, subs)
	if n := e.srv.Conns(); n != 4 {
		t.Errorf("connections = %d, want 4 (3 messages each)", n)
	}
	// Every connection carried up to 3 messages: reuse, not one per message.
	per := map[int]int{}
	for _, msg := range e.srv.Messages() {
		per[msg.Conn]++
	}
	for c, n := range per {
		if n > 3 {
			t.Errorf("connection %d carried %d messages", c, n)
		}
	}
}

func TestConnectionReuse(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	subs := e.subscribe(t, "sub", 40, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p")
	m := e.mailer(t, nil)
	m.cfg.SMTP.Concurrency = 3
	m.cfg.BatchSize = 7
	drain(t, m)
	e.exactlyOnce(t, subs)
	if n := e.srv.Conns(); n < 1 || n > 3 {
		t.Errorf("connections = %d, want at most concurrency (3)", n)
	}
}

func TestRateLimit(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	subs := e.subscribe(t, "sub", 8, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p")
	m := e.mailer(t, func(o *Options) { o.Config.SMTP.Rate = 40 })
	// The pacer waits on the mailer's clock: the test moves it by 1 ms
	// steps while the drain runs. By then at most 1 + elapsed/25ms
	// messages may have gone (40/s); the drain cannot end before the
	// eighth message's slot, 7/40 s = 175 ms after the first.
	start := e.clock.Now()
	done := make(chan struct{})
	go func() { defer close(done); drain(t, m) }()
	var el time.Duration
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(200 * time.Microsecond):
			e.clock.Advance(time.Millisecond)
		}
		el = e.clock.Now().Sub(start)
		if n, most := e.srv.Delivered(), 1+int(el/(25*time.Millisecond)); n > most {
			t.Fatalf("%d messages after %v at rate 40/s, want at most %d", n, el, most)
		}
	}
	e.exactlyOnce(t, subs)
	if el < 175*time.Millisecond {
		t.Errorf("8 messages at rate 40/s took %v of the clock, want at least 175ms", el)
	}
	if el > 2*time.Second {
		t.Errorf("8 messages at rate 40/s took %v of the clock", el)
	}
}

// TestPacerThrottle runs in a synctest bubble: the pacer's system clock is
// the bubble's fake one, so the waits are exact and take no real time.
func TestPacerThrottle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPacer(nil, 100, 80*time.Millisecond)
		ctx := context.Background()
		p.throttle()
		if p.rate != 50 {
			t.Errorf("rate after throttle = %g, want 50 (halved)", p.rate)
		}
		start := time.Now()
		if err := p.wait(ctx); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el != 80*time.Millisecond {
			t.Errorf("wait after throttle returned after %v, want the 80ms pause", el)
		}
		start = time.Now()
		if err := p.wait(ctx); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el != 20*time.Millisecond {
			t.Errorf("the next wait took %v, want 20ms (50 messages/s)", el)
		}
		for range 10 {
			p.throttle()
		}
		if p.rate != 100.0/16 {
			t.Errorf("rate floor = %g, want %g", p.rate, 100.0/16)
		}
		// Unlimited: only the pause applies.
		u := newPacer(nil, 0, time.Hour)
		u.throttle()
		c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		if err := u.wait(c); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("wait during the pause = %v, want the context's error", err)
		}
	})
}

func TestDigest(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	subs := e.subscribe(t, "sub", 3, store.StatusConfirmed)
	e.addPost("late", workerT0.Add(-1*time.Hour), true)
	e.addPost("early", workerT0.Add(-3*time.Hour), true)
	e.addPost("skipped", workerT0.Add(-2*time.Hour), false)
	e.clock.Advance(time.Minute)
	e.announce(t, "late", "early", "skipped")
	m := e.mailer(t, func(o *Options) { o.Digest = true })

	if s := drain(t, m); s.Sent != 0 || s.Mailings != 0 {
		t.Fatalf("Drain before the digest tick = %+v, want nothing (posts wait)", s)
	}
	e.clock.Advance(time.Hour)
	if err := m.Digest(e.ctx, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if s := drain(t, m); s.Sent != 3 || s.Mailings != 1 {
		t.Fatalf("Drain after the digest = %+v, want 3 sent in one mailing", s)
	}
	e.exactlyOnce(t, subs)
	_, text, _ := parseMessage(t, e.srv.Messages()[0].Data)
	i, j := strings.Index(text, "Title of early"), strings.Index(text, "Title of late")
	if i < 0 || j < 0 || i > j {
		t.Errorf("digest text does not hold early then late (date order):\n%s", text)
	}
	if strings.Contains(text, "Title of skipped") {
		t.Errorf("digest holds the newsletter: false post")
	}

	// Nothing waits: no digest, no mail.
	e.clock.Advance(24 * time.Hour)
	if err := m.Digest(e.ctx, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if s := drain(t, m); s.Sent != 0 || s.Mailings != 0 {
		t.Errorf("empty digest = %+v, want nothing", s)
	}
	if got := e.srv.Delivered(); got != 3 {
		t.Errorf("delivered = %d, want 3", got)
	}
}

func TestNewsletterFalseSkipsMailing(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	e.subscribe(t, "sub", 2, store.StatusConfirmed)
	e.addPost("quiet", workerT0, false)
	e.clock.Advance(time.Minute)
	e.announce(t, "quiet")
	m := e.mailer(t, nil)
	if s := drain(t, m); s.Sent != 0 || s.Queued != 0 {
		t.Errorf("summary = %+v, want nothing", s)
	}
	stats, err := e.db.DeliveryStats(e.ctx, 5)
	if err != nil || len(stats) != 1 || !strings.Contains(stats[0].Skipped, "newsletter: false") || stats[0].Total() != 0 {
		t.Errorf("stats = %+v, %v; want one skipped mailing without deliveries", stats, err)
	}
	if e.srv.Delivered() != 0 {
		t.Errorf("delivered %d", e.srv.Delivered())
	}
}

// Deliveries left in flight by a crash are sent once their lease has run
// out, never before (the owner may be alive and sending them).
func TestRunTakesOverExpiredLeases(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	subs := e.subscribe(t, "sub", 4, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p")
	ids, _ := e.db.CreateMailings(e.ctx, e.clock.Now(), false)
	if _, err := e.db.ExpandMailing(e.ctx, e.clock.Now(), ids[0]); err != nil {
		t.Fatal(err)
	}
	// A worker claimed two and died.
	dead := store.Lease{Owner: "elsewhere:1:dead", For: 2 * time.Minute}
	if got, err := e.db.ClaimDeliveries(e.ctx, e.clock.Now(), dead, 2); err != nil || len(got) != 2 {
		t.Fatalf("claim = %v, %v", got, err)
	}
	m := e.mailer(t, nil)
	// Drain does not take over rows whose lease still runs (the daemon may
	// be sending them).
	if s := drain(t, m); s.Sent != 2 {
		t.Fatalf("Drain = %+v, want the 2 unclaimed sent", s)
	}
	e.clock.Advance(time.Minute)
	if s := drain(t, m); s.Sent != 0 || e.srv.Delivered() != 2 {
		t.Fatalf("Drain a minute later = %+v, want nothing sent (the lease runs 2m)", s)
	}
	e.clock.Advance(time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	if !waitFor(t, "delivery", func() bool { return e.srv.Delivered() == 4 }, 5*time.Second) {
		t.Errorf("delivered %d, want 4", e.srv.Delivered())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	e.exactlyOnce(t, subs)
	if c := e.counts(t); c != (store.DeliveryCounts{Sent: 4}) {
		t.Errorf("ledger = %+v", c)
	}
}

func TestRunWakeAndShutdown(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	subs := e.subscribe(t, "sub", 3, store.StatusConfirmed)
	m := e.mailer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()

	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p")
	m.Wake()
	if !waitFor(t, "delivery", func() bool { return e.srv.Delivered() == 3 }, 5*time.Second) {
		t.Errorf("after Wake: delivered %d, want 3", e.srv.Delivered())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil on cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	e.exactlyOnce(t, subs)
}

// Shutdown mid-list: the claimed rest goes back to pending, the ledger is
// consistent, and a restart sends the rest exactly once.
func TestShutdownMidList(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	subs := e.subscribe(t, "sub", 30, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p")
	m := e.mailer(t, func(o *Options) { o.Config.SMTP.Rate = 100 })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	waitFor(t, "some delivery", func() bool { return e.srv.Delivered() >= 5 }, 5*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c := e.counts(t)
	if c.Sending != 0 || int(c.Sent) != e.srv.Delivered() || c.Sent+c.Pending != 30 {
		t.Errorf("ledger after shutdown = %+v with %d delivered; want no row in flight", c, e.srv.Delivered())
	}
	m2 := e.mailer(t, nil)
	drain(t, m2)
	e.exactlyOnce(t, subs)
}

func TestPreviewSendTestDryRun(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	e.subscribe(t, "sub", 12, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	m := e.mailer(t, nil)

	msg, err := m.Preview(e.ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	h, text, html := parseMessage(t, msg.Bytes())
	if !strings.Contains(h.Get("To"), "owner@example.com") || !strings.Contains(text, "TLDR of p") ||
		h.Get("Subject") != "Title of p" {
		t.Errorf("preview: To %q Subject %q text %q", h.Get("To"), h.Get("Subject"), text)
	}
	// The returned bodies are the message's parts, decoded ("\n" for CRLF;
	// the multipart reader drops the line break before the boundary).
	crlf := strings.NewReplacer("\r\n", "\n")
	if msg.Text != crlf.Replace(text)+"\n" || !strings.Contains(msg.Text, "TLDR of p") {
		t.Errorf("preview: Text %q, want the message's text part %q", msg.Text, text)
	}
	if msg.HTML != crlf.Replace(html)+"\n" || !strings.Contains(msg.HTML, "TLDR of p") || !strings.Contains(msg.HTML, "unsubscribe") {
		t.Errorf("preview: HTML %q, want the message's HTML part %q", msg.HTML, html)
	}
	if _, err := m.Preview(e.ctx, "nope"); !errors.Is(err, feed.ErrNotFound) {
		t.Errorf("Preview(nope) = %v, want feed.ErrNotFound", err)
	}

	if err := m.SendTest(e.ctx, "p", "Tester <tester@example.net>"); err != nil {
		t.Fatal(err)
	}
	if e.srv.Count("tester@example.net") != 1 || e.srv.Delivered() != 1 {
		t.Errorf("SendTest: delivered %d, to tester %d", e.srv.Delivered(), e.srv.Count("tester@example.net"))
	}
	if c := e.counts(t); c != (store.DeliveryCounts{}) {
		t.Errorf("SendTest wrote to the ledger: %+v", c)
	}
	if err := m.SendTest(e.ctx, "p", "not an address"); err == nil {
		t.Errorf("SendTest to a bad address: no error")
	}

	plan, err := m.DryRun(e.ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if plan.Recipients != 12 || len(plan.Send) != 12 || plan.Send[0].Email != "sub000@example.com" || !plan.Mailing.New ||
		plan.Subject != "Title of p" || !plan.Newsletter || plan.Bytes == 0 {
		t.Errorf("DryRun = %+v", plan)
	}
	if e.srv.Delivered() != 1 {
		t.Errorf("DryRun sent mail")
	}
}

func TestNewValidates(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	cfg := e.cfg
	base := Options{Config: &cfg, Site: workerSite(), PublicURL: "https://x.example.com", Secret: e.secret, DB: e.db, Posts: e.posts}
	tests := []struct {
		name   string
		mutate func(*Options)
	}{
		{"no config", func(o *Options) { o.Config = nil }},
		{"no db", func(o *Options) { o.DB = nil }},
		{"no posts", func(o *Options) { o.Posts = nil }},
		{"short secret", func(o *Options) { o.Secret = []byte("short") }},
		{"no public url", func(o *Options) { o.PublicURL = "" }},
		{"relative public url", func(o *Options) { o.PublicURL = "/herald" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			tt.mutate(&o)
			if _, err := New(o); err == nil {
				t.Errorf("New: no error")
			}
		})
	}
	if _, err := New(base); err != nil {
		t.Errorf("New(valid) = %v", err)
	}
}

func TestMessageIDDeterministic(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	a, b := e.mailer(t, nil), e.mailer(t, nil)
	if x, y := a.messageID("mailing", 7, 42), b.messageID("mailing", 7, 42); x != y {
		t.Errorf("Message-ID differs between mailers: %s, %s", x, y)
	}
	if x, y := a.messageID("mailing", 7, 42), a.messageID("mailing", 7, 43); x == y {
		t.Errorf("Message-ID equal for two subscribers: %s", x)
	}
}

// With the server down, a pass stops after a few connection failures
// instead of burning an attempt of every subscriber, and reports it.
func TestServerUnreachable(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	subs := e.subscribe(t, "sub", 50, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	down := e.mailer(t, func(o *Options) {
		o.Config.SMTP.Port = dead
		o.Transport = smtpTransport(t, e.srv, *o.Config)
	})
	down.backoff = defaultBackoff
	s, err := down.Drain(e.ctx)
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("Drain with the server down = %v, want an unreachable error", err)
	}
	// 2×concurrency failures stop the pass; the other worker may be
	// dialling already.
	if s.Retried > 3*2 || s.Sent != 0 {
		t.Errorf("summary = %+v, want at most 3×concurrency (6) attempts used", s)
	}
	if c := e.counts(t); c.Sending != 0 || c.Pending+c.Retry != 50 {
		t.Errorf("ledger = %+v, want all 50 waiting, none in flight", c)
	}

	e.clock.Advance(time.Hour) // past the retries' backoff
	up := e.mailer(t, nil)
	if s := drain(t, up); s.Sent != 50 {
		t.Errorf("Drain with the server up = %+v, want 50 sent", s)
	}
	e.exactlyOnce(t, subs)
}
