package mailer

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"herald/feed"
	"herald/mailer/smtptest"
	"herald/schedule/store"
	"herald/schedule/store/sqlite"
)

// The crash test runs the delivery worker in a child process (this test
// binary, re-executed to run TestCrashChild) against a SMTP server in the
// parent, kills it with SIGKILL at several points, restarts it, and checks
// the guarantee: every confirmed subscriber gets the post, duplicates are
// bounded by the messages in flight (concurrency per kill), and the ledger
// says sent for all.

const (
	crashEnvDB   = "HERALD_CRASH_TEST_DB"
	crashEnvSMTP = "HERALD_CRASH_TEST_SMTP"
	crashEnvN    = "HERALD_CRASH_TEST_N" // subscribers; default crashSubs
	crashSubs    = 2000
	crashConc    = 4
	crashLease   = 2 * time.Second // a killed worker's deliveries are taken over this long after its last renewal
)

// crashPosts is the one post of the crash test; parent and child agree on it.
func crashPosts() *fixedPosts {
	date := time.Date(2024, 6, 1, 9, 0, 0, 0, time.UTC)
	return &fixedPosts{
		posts: map[string]*feed.Post{"crash-post": {
			ID: "crash-post", Path: "_posts/2024-06-01-crash-post.md", Title: "Crash post", Slug: "crash-post",
			URL: "https://blog.example.com/crash-post/", Date: date, Published: true, Newsletter: true,
		}},
		sections: map[string]*feed.Section{"crash-post": {
			Heading: "TLDR", HTML: "<p>Everything is <em>fine</em>.</p>", Text: "Everything is fine.",
		}},
	}
}

func crashConfig(addr string) Config {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	cfg := Default()
	cfg.Transport = TransportSMTP
	cfg.From = "Blog <news@example.com>"
	cfg.SMTP.Host, cfg.SMTP.Port = host, p
	cfg.SMTP.TLS = "none"
	cfg.SMTP.Auth = "none"
	cfg.SMTP.Concurrency = crashConc
	cfg.SMTP.Timeout.Duration = 5 * time.Second
	cfg.SMTP.HELO = "herald.test"
	cfg.BatchSize = 50
	cfg.Lease.Duration = crashLease
	return cfg
}

// TestCrashChild is the child process of TestCrashRecovery; it does nothing
// in a normal test run. It runs the worker until the ledger says every
// delivery is sent, then exits.
func TestCrashChild(t *testing.T) {
	dbPath, addr := os.Getenv(crashEnvDB), os.Getenv(crashEnvSMTP)
	if dbPath == "" || addr == "" {
		t.Skip("child process of TestCrashRecovery")
	}
	want := int64(crashSubs)
	if n, err := strconv.Atoi(os.Getenv(crashEnvN)); err == nil {
		want = int64(n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := crashConfig(addr)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{
		Config: &cfg, Site: workerSite(), PublicURL: "https://blog.example.com/herald",
		Secret: []byte("crash-test-secret-0123456789"), DB: db, Posts: crashPosts(),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	for {
		c, err := db.CountDeliveries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Sent == want {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: several seconds")
	}
	if os.Getenv(crashEnvDB) != "" {
		t.Skip("in the child")
	}
	ctx := context.Background()
	srv := smtptest.New(t, smtptest.Options{NoSTARTTLS: true, Discard: true})
	dbPath := filepath.Join(t.TempDir(), "herald.db")
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	subs := make([]string, crashSubs)
	for i := range subs {
		subs[i] = fmt.Sprintf("reader%04d@example.com", i)
	}
	importCSV := ""
	for _, s := range subs {
		importCSV += s + "\n"
	}
	if _, err := db.Record(ctx, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), nil, false); err != nil { // a first run before the post
		t.Fatal(err)
	}
	res, err := Import(ctx, db, strings.NewReader(importCSV), now.Add(-time.Minute), false)
	if err != nil || res.Added != crashSubs {
		t.Fatalf("import: %+v, %v", res, err)
	}
	p := crashPosts().posts["crash-post"]
	if _, err := db.Record(ctx, now, []store.SeenPost{{ID: p.ID, Path: p.Path, Slug: p.Slug, Title: p.Title,
		URL: p.URL, Hash: "h", Date: p.Date, Due: true}}, false); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	runChild := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnvDB+"="+dbPath, crashEnvSMTP+"="+srv.Addr)
		out := &prefixWriter{t: t}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	kills := 0
	for _, at := range []int{100, 700, 1500} {
		cmd := runChild()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		deadline := time.Now().Add(15 * time.Second)
		for srv.Delivered() < at && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		<-exited
		kills++
		t.Logf("killed the worker after %d messages captured", srv.Delivered())
	}
	cmd := runChild()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final run: %v", err)
	}
	t.Logf("%d kills, %d messages for %d subscribers in %v", kills, srv.Delivered(), crashSubs, time.Since(start))

	dups := 0
	for _, s := range subs {
		switch n := srv.Count(s); {
		case n == 0:
			t.Errorf("%s got no message", s)
		case n > 1:
			dups += n - 1
		}
	}
	if limit := crashConc * kills; dups > limit {
		t.Errorf("%d duplicates, want at most %d (concurrency %d × %d kills)", dups, limit, crashConc, kills)
	}
	t.Logf("duplicates: %d (limit %d)", dups, crashConc*kills)
	c, err := db.CountDeliveries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c != (store.DeliveryCounts{Sent: crashSubs}) {
		t.Errorf("ledger = %+v, want %d sent", c, crashSubs)
	}
}

// prefixWriter logs a child's output through t.
type prefixWriter struct{ t *testing.T }

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.t.Logf("child: %s", p)
	return len(p), nil
}

// crashFixture is a database with n confirmed subscribers and the crash
// post announced, and a SMTP server that counts what it receives.
type crashFixture struct {
	srv    *smtptest.Server
	dbPath string
	db     *sqlite.DB
	subs   []string
}

func newCrashFixture(t *testing.T, n int) *crashFixture {
	t.Helper()
	ctx := context.Background()
	f := &crashFixture{
		srv:    smtptest.New(t, smtptest.Options{NoSTARTTLS: true, Discard: true}),
		dbPath: filepath.Join(t.TempDir(), "herald.db"),
	}
	db, err := sqlite.Open(ctx, f.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f.db = db
	now := time.Now()
	var csv strings.Builder
	for i := range n {
		f.subs = append(f.subs, fmt.Sprintf("reader%04d@example.com", i))
		csv.WriteString(f.subs[i] + "\n")
	}
	if _, err := db.Record(ctx, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), nil, false); err != nil {
		t.Fatal(err)
	}
	if res, err := Import(ctx, db, strings.NewReader(csv.String()), now.Add(-time.Minute), false); err != nil || res.Added != n {
		t.Fatalf("import: %+v, %v", res, err)
	}
	p := crashPosts().posts["crash-post"]
	if _, err := db.Record(ctx, now, []store.SeenPost{{ID: p.ID, Path: p.Path, Slug: p.Slug, Title: p.Title,
		URL: p.URL, Hash: "h", Date: p.Date, Due: true}}, false); err != nil {
		t.Fatal(err)
	}
	return f
}

// child starts a worker process on the fixture's database.
func (f *crashFixture) child(t *testing.T) (cmd *exec.Cmd, exited <-chan error) {
	t.Helper()
	cmd = exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnvDB+"="+f.dbPath, crashEnvSMTP+"="+f.srv.Addr, crashEnvN+"="+strconv.Itoa(len(f.subs)))
	out := &prefixWriter{t: t}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 1)
	go func() { ch <- cmd.Wait() }()
	return cmd, ch
}

// check counts the missing recipients and the duplicates, asserts the
// bounds, and that the ledger says sent for everyone.
func (f *crashFixture) check(t *testing.T, maxDups int) {
	t.Helper()
	missing, dups := 0, 0
	for _, s := range f.subs {
		switch n := f.srv.Count(s); {
		case n == 0:
			missing++
		case n > 1:
			dups += n - 1
		}
	}
	t.Logf("%d recipients: %d missing, %d duplicates (at most %d allowed)", len(f.subs), missing, dups, maxDups)
	if missing != 0 || dups > maxDups {
		t.Errorf("%d recipients: %d missing, %d duplicates; want 0 missing and at most %d duplicates", len(f.subs), missing, dups, maxDups)
	}
	c, err := f.db.CountDeliveries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c != (store.DeliveryCounts{Sent: int64(len(f.subs))}) {
		t.Errorf("ledger = %+v, want %d sent", c, len(f.subs))
	}
}

// The crash matrix (issue 8): SIGKILL at ten evenly spaced moments of a
// 500-recipient send, each followed by a restart: nobody is missed, and
// the duplicates are at most concurrency per kill.
func TestCrashMatrix_500Recipients_10Kills_0Missing(t *testing.T) {
	if testing.Short() {
		t.Skip("crash matrix: several seconds")
	}
	if os.Getenv(crashEnvDB) != "" {
		t.Skip("in the child")
	}
	const n, kills = 500, 10
	f := newCrashFixture(t, n)
	for k := 1; k <= kills; k++ {
		at := k * n / (kills + 1)
		cmd, exited := f.child(t)
		deadline := time.Now().Add(30 * time.Second)
		for f.srv.Delivered() < at && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		<-exited
		t.Logf("kill %d after %d messages captured (target %d)", k, f.srv.Delivered(), at)
	}
	_, exited := f.child(t)
	if err := <-exited; err != nil {
		t.Fatalf("final run: %v", err)
	}
	f.check(t, crashConc*kills)
}

// Two worker processes racing on one database (a `herald send` beside the
// daemon, or two daemons on PostgreSQL): no kill, so no duplicate at all.
func TestCrashMatrix_TwoProcesses_500Recipients_0Missing_0Duplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("two processes: a few seconds")
	}
	if os.Getenv(crashEnvDB) != "" {
		t.Skip("in the child")
	}
	f := newCrashFixture(t, 500)
	_, a := f.child(t)
	_, b := f.child(t)
	for _, ch := range []<-chan error{a, b} {
		if err := <-ch; err != nil {
			t.Fatalf("worker: %v", err)
		}
	}
	f.check(t, 0)
}
