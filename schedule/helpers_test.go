package schedule

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"herald/feed/testkit"

	"github.com/mmcdole/gofeed"

	"herald/feed"
	"herald/schedule/store"
	"herald/schedule/store/sqlite"
)

// fakeClock is the tests' settable clock (testkit.Clock) as a Clock.
type fakeClock struct{ *testkit.Clock }

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{testkit.NewClock(t)} }

func (c *fakeClock) NewTimer(d time.Duration) Timer { return c.Clock.NewTimer(d) }

// t0 is where fake clocks start in these tests.
var t0 = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// countingStore is the real database with counters around it.
type countingStore struct {
	*sqlite.DB
	records atomic.Int64
	metas   atomic.Int64
	panicOn atomic.Bool   // Record panics (to test recovery)
	failOn  atomic.Bool   // Record fails as a locked database would
	hold    chan struct{} // when set before the daemon starts: Record waits for it to close (a hung scan)
}

func (s *countingStore) Record(ctx context.Context, now time.Time, posts []store.SeenPost, backfill bool) (store.RecordResult, error) {
	s.records.Add(1)
	if s.hold != nil {
		<-s.hold
	}
	if s.panicOn.Load() {
		panic("test panic in Record")
	}
	if s.failOn.Load() {
		return store.RecordResult{}, fmt.Errorf("store: record: %w", store.ErrLocked)
	}
	return s.DB.Record(ctx, now, posts, backfill)
}

func (s *countingStore) SetMeta(ctx context.Context, k, v string) error {
	s.metas.Add(1)
	return s.DB.SetMeta(ctx, k, v)
}

// newsletter counts Wake and Digest calls.
type newsletter struct {
	wakes   atomic.Int64
	digests atomic.Int64
}

func (n *newsletter) Wake() { n.wakes.Add(1) }
func (n *newsletter) Digest(ctx context.Context, now time.Time) error {
	n.digests.Add(1)
	return nil
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// env is one test blog: a posts folder, a feeds folder, a database.
type env struct {
	t        testing.TB
	dir      string
	posts    string
	public   string
	dbPath   string
	site     *feed.Site
	feeds    *feed.FeedsConfig
	loader   *feed.Loader
	store    *countingStore
	clock    *fakeClock
	news     *newsletter
	logs     *syncBuffer
	backfill bool
	cron     string
	watch    bool
	snap     MailSnapshotter // Options.MailSnapshot
}

func newEnv(t testing.TB, tz string) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{
		t:      t,
		dir:    dir,
		posts:  filepath.Join(dir, "posts"),
		public: filepath.Join(dir, "public"),
		dbPath: filepath.Join(dir, "var", "herald.db"),
		clock:  newFakeClock(t0),
		news:   &newsletter{},
		logs:   &syncBuffer{},
		cron:   "0 0 1 1 *", // once a year: timers under test are not the cron tick
	}
	if err := os.MkdirAll(e.posts, 0o755); err != nil {
		t.Fatal(err)
	}
	site := feed.DefaultSite()
	site.Title = "Test Blog"
	site.URL = "https://blog.example.com"
	site.Timezone = tz
	if err := site.Validate(); err != nil {
		t.Fatal(err)
	}
	feeds := feed.DefaultFeeds()
	feeds.Dir = e.public
	if err := feeds.Validate(&site); err != nil {
		t.Fatal(err)
	}
	e.site, e.feeds = &site, &feeds
	e.loader = feed.NewLoader(e.site, e.posts, nil)
	e.openStore()
	return e
}

// openStore opens (again) the database.
func (e *env) openStore() {
	e.t.Helper()
	db, err := sqlite.Open(context.Background(), e.dbPath)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close() })
	e.store = &countingStore{DB: db}
}

// daemon makes a Daemon over the env, with a scan hook sending to the
// returned channel.
func (e *env) daemon() (*Daemon, chan scanDone) {
	e.t.Helper()
	return e.daemonWithClock(e.clock)
}

// daemonWithClock is daemon with another clock.
func (e *env) daemonWithClock(clock Clock) (*Daemon, chan scanDone) {
	e.t.Helper()
	opts := Options{
		Site:       e.site,
		Feeds:      e.feeds,
		Schedule:   Config{Cron: e.cron},
		Backfill:   e.backfill,
		Loader:     e.loader,
		Store:      e.store,
		Handler:    feed.NewHandler(time.Minute),
		Newsletter: e.news,
		Clock:      clock,
		Logger:     slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Watchdog:   -1,
	}
	if e.snap != nil {
		opts.MailSnapshot = e.snap
		opts.SnapshotTimeout = 3 * time.Second
	}
	if e.watch {
		opts.PostsDir = e.posts
	}
	d, err := New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	ch := make(chan scanDone, 100)
	d.afterScan = func(res ScanResult, err error) { ch <- scanDone{res, err} }
	return d, ch
}

type scanDone struct {
	res ScanResult
	err error
}

// run starts d.Run and returns a stop function that cancels it and waits.
func (e *env) run(d *Daemon) (stop func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				e.t.Errorf("Run returned %v", err)
			}
		case <-time.After(10 * time.Second):
			e.t.Fatal("Run did not return after cancel")
		}
	}
	e.t.Cleanup(stop)
	return stop
}

// waitScan waits for the next scan of the hook channel (a test deadline,
// not a schedule: the fake clock drives the daemon).
func waitScan(t testing.TB, ch chan scanDone) scanDone {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no scan within 10s")
		return scanDone{}
	}
}

// noScan checks that no scan is waiting in ch.
func noScan(t testing.TB, ch chan scanDone) {
	t.Helper()
	select {
	case s := <-ch:
		t.Fatalf("unexpected scan at %s (err %v)", s.res.At, s.err)
	default:
	}
}

// writePost writes posts/<name> with the given title and date and returns
// its path.
func (e *env) writePost(name, title, date string, extra ...string) string {
	e.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "---\ntitle: %q\ndate: %s\n", title, date)
	for _, x := range extra {
		b.WriteString(x + "\n")
	}
	b.WriteString("---\n# TLDR\n\nThe post " + title + " in short.\n\nBody of " + title + ".\n")
	file := filepath.Join(e.posts, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		e.t.Fatal(err)
	}
	// An mtime in the past: the Loader re-reads "racily" recent files,
	// which is correct but not what these tests look at.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(file, old, old); err != nil {
		e.t.Fatal(err)
	}
	return file
}

// titles parses the written RSS feed back and returns its item titles.
func (e *env) titles() []string {
	e.t.Helper()
	f, err := os.Open(filepath.Join(e.public, "feed.xml"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	parsed, err := gofeed.NewParser().Parse(f)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, it := range parsed.Items {
		out = append(out, it.Title)
	}
	return out
}

// announcements returns the database's announcements, oldest first.
func (e *env) announcements() []store.Announcement {
	e.t.Helper()
	list, err := e.store.Announcements(context.Background(), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list
}

func announcedTitles(list []store.Announcement) []string {
	var out []string
	for _, a := range list {
		out = append(out, a.Title)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// seedPost returns testdata/seed-post.md with its title and date replaced.
func seedPost(tb testing.TB, title, date string) []byte {
	tb.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "seed-post.md"))
	if err != nil {
		tb.Fatal(err)
	}
	// Only the front matter (the first block between "---" lines).
	fm, body, ok := strings.Cut(strings.TrimPrefix(string(src), "---\n"), "\n---\n")
	if !ok {
		tb.Fatal("testdata/seed-post.md: no front matter")
	}
	fm = regexp.MustCompile(`(?m)^title: .*$`).ReplaceAllString(fm, fmt.Sprintf("title: %q", title))
	fm = regexp.MustCompile(`(?m)^date: .*$`).ReplaceAllString(fm, "date: "+date)
	s := "---\n" + fm + "\n---\n" + body
	return []byte(s)
}
