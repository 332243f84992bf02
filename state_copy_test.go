package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"herald/mailer"
	"herald/mailer/smtptest"
	"herald/schedule/store"
	"herald/schedule/store/postgres"
	"herald/schedule/store/sqlite"
)

// copyFixture is what populateState made, for the checks after a copy.
type copyFixture struct {
	secret     []byte
	subscriber int64 // a confirmed subscriber
	deletedID  int64 // the highest subscriber id handed out, whose row is gone
}

// populateState fills db with a state where every table a copy moves
// holds rows: meta (secret, install id), posts, announcements (auto and
// manual), subscribers (confirmed, unsubscribed, suppressed, forgotten, a
// deleted pending one holding the highest id), mailings, deliveries
// (sent, retry with its attempt, sending under a lease, pending),
// subscriber_merges, bounce_events (matched with raw, unmatched) and a
// stale member.
func populateState(t *testing.T, db interface {
	store.Store
	store.Copier
}) copyFixture {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	var fx copyFixture
	var err error
	if fx.secret, err = mailer.LoadSecret(ctx, db, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := mailer.LoadInstallID(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := db.SetMeta(ctx, "feed_stamps", `{"feed.xml":"2026-11-20T10:00:00Z"}`); err != nil {
		t.Fatal(err)
	}
	post := func(i int, due bool) store.SeenPost {
		return store.SeenPost{
			ID: fmt.Sprintf("post-%d", i), Path: fmt.Sprintf("posts/2026-11-%02d-p.md", i), Slug: "p",
			Title: fmt.Sprintf("Post %d", i), URL: fmt.Sprintf("https://blog.example.com/%d/", i),
			Hash: fmt.Sprintf("h%d", i), Date: now.Add(-time.Duration(10-i) * time.Hour), Due: due,
		}
	}
	if _, err := db.Record(ctx, now, []store.SeenPost{post(1, true), post(2, true)}, false); err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct{ addr, status string }{
		{"ann@example.org", "confirmed"}, {"bob@example.org", "confirmed"}, {"cy@example.org", "confirmed"},
		{"dee@example.org", "unsubscribed"}, {"eve@example.org", "confirmed"}, {"gil@example.org", "confirmed"},
	} {
		s, _, err := db.AddSubscriber(ctx, now.Add(-time.Hour), a.addr, "Name "+a.addr[:3], store.SubscriberStatus(a.status), store.SourceCLI)
		if err != nil {
			t.Fatal(err)
		}
		if fx.subscriber == 0 {
			fx.subscriber = s.ID
		}
	}
	pend, _, err := db.AddSubscriber(ctx, now.Add(-time.Hour), "fay@example.org", "", store.StatusPending, store.SourceWeb)
	if err != nil {
		t.Fatal(err)
	}
	fx.deletedID = pend.ID
	if n, err := db.DeletePending(ctx, now); err != nil || n != 1 {
		t.Fatalf("delete pending: %d, %v", n, err)
	}
	// Post 1 edited since it was announced (posts.edited_at); post 3
	// announced with the newsletter's snapshot (binary bytes).
	edited, snapped := post(1, true), post(3, true)
	edited.Hash = "h1-edited"
	snapped.Mail = []byte("{\"v\":1}\x00\xff")
	if _, err := db.Record(ctx, now, []store.SeenPost{edited, post(2, true), snapped}, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Announce(ctx, now, post(1, true)); err != nil {
		t.Fatal(err)
	}
	ids, err := db.CreateMailings(ctx, now, false)
	if err != nil || len(ids) == 0 {
		t.Fatalf("create mailings: %v, %v", ids, err)
	}
	manual, err := db.CreateManualMailings(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range append(ids, manual...) {
		if _, err := db.ExpandMailing(ctx, now, id); err != nil {
			t.Fatal(err)
		}
	}
	// A mailing that waits for its post (mailings.wait_reason, wait_until).
	if err := db.SetMailingWait(ctx, ids[0], "post x cannot be read: broken", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	lease := store.Lease{Owner: "old-host:42:abc", For: 10 * time.Minute}
	claimed, err := db.ClaimDeliveries(ctx, now, lease, 4)
	if err != nil || len(claimed) != 4 {
		t.Fatalf("claim: %d, %v", len(claimed), err)
	}
	if _, err := db.RecordOutcomes(ctx, now, lease.Owner, []store.Outcome{
		{ID: claimed[0].ID, State: store.DeliverySent},
		{ID: claimed[1].ID, State: store.DeliveryRetry, Next: now.Add(time.Minute), Code: 451, Text: "4.7.1 try later"},
		{ID: claimed[2].ID, State: store.DeliveryFailed, Code: 554, Text: "5.7.1 rejected"},
	}); err != nil {
		t.Fatal(err)
	}
	// claimed[3] stays sending, under old-host's lease.
	pol := store.BouncePolicy{SoftLimit: 3, SoftWindow: 30 * 24 * time.Hour}
	cy, err := db.Subscriber(ctx, "cy@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordBounce(ctx, now, store.NewBounce{SubscriberID: cy.ID, MailingID: ids[0], Type: store.BounceHard,
		Source: "dsn", Status: "5.1.1", Diagnostic: "no such user", Raw: []byte("From: MAILER-DAEMON\r\n\r\nraw\x00bytes")}, pol); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordBounce(ctx, now, store.NewBounce{Email: "stranger@example.net", Type: store.BounceAutoReply, Source: "autoreply"}, pol); err != nil {
		t.Fatal(err)
	}
	if err := db.ForgetSubscriber(ctx, now, "eve@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := db.Beat(ctx, now, store.Member{ID: "old-host:42:abc", Host: "old-host", PID: 42, Version: "v0", StartedAt: now}); err != nil {
		t.Fatal(err)
	}
	// subscriber_merges is written only by a migration: one row by hand.
	err = db.WriteState(ctx, func(w store.StateWriter) error {
		return w.Insert(ctx, "subscriber_merges",
			[]string{"id", "kept_id", "kept_email", "merged_email", "merged_status", "merged_at", "unsubscribed"},
			[][]any{{int64(1), fx.subscriber, "ann@example.org", "ANN@example.org", "pending", now.Unix(), int64(1)}})
	})
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

// dumpState reads every table of db, each row as a canonical string
// (columns by name, values with their neutral type), rows sorted.
func dumpState(t *testing.T, db store.Copier) map[string][]string {
	t.Helper()
	ctx := context.Background()
	out := map[string][]string{}
	err := db.ReadState(ctx, func(r store.StateReader) error {
		tables, err := r.Tables(ctx)
		if err != nil {
			return err
		}
		for table, cols := range tables {
			out[table] = []string{}
			err := r.Rows(ctx, table, cols, func(row []any) error {
				parts := make([]string, len(cols))
				for i, c := range cols {
					parts[i] = fmt.Sprintf("%s=%#v", c, row[i])
				}
				slices.Sort(parts)
				out[table] = append(out[table], strings.Join(parts, " "))
				return nil
			})
			if err != nil {
				return err
			}
			slices.Sort(out[table])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// expireLeases is dump with the leases of deliveries in flight expired,
// as a copy leaves them.
func expireLeases(t *testing.T, dump map[string][]string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	n := 0
	re := regexp.MustCompile(`lease_until=\d+`)
	for table, rows := range dump {
		out[table] = slices.Clone(rows)
		if table != "deliveries" {
			continue
		}
		for i, r := range out[table] {
			if strings.Contains(r, `state="sending"`) {
				out[table][i] = re.ReplaceAllString(r, "lease_until=0")
				n++
			}
		}
		slices.Sort(out[table])
	}
	if n == 0 {
		t.Fatal("the fixture has no delivery in flight")
	}
	return out
}

func compareDumps(t *testing.T, what string, want, got map[string][]string) {
	t.Helper()
	for table, rows := range want {
		if len(rows) == 0 {
			t.Errorf("%s: table %s of the source is empty: the fixture must fill every table", what, table)
		}
		if !slices.Equal(rows, got[table]) {
			t.Errorf("%s: table %s differs:\nwant %q\n got %q", what, table, rows, got[table])
		}
	}
	for table := range got {
		if _, ok := want[table]; !ok {
			t.Errorf("%s: table %s only in the copy", what, table)
		}
	}
}

func openSQLite(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// checkAfterCopy opens the copy at loc and checks that a token minted on
// the source verifies with its secret and that new subscribers get ids
// above every id the source handed out.
func checkAfterCopy(t *testing.T, db store.Store, fx copyFixture) {
	t.Helper()
	ctx := context.Background()
	tok := mailer.Token(fx.secret, mailer.PurposeUnsubscribe, fx.subscriber, time.Time{})
	secret, err := mailer.LoadSecret(ctx, db, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if id, err := mailer.ParseToken(secret, mailer.PurposeUnsubscribe, tok, time.Now()); err != nil || id != fx.subscriber {
		t.Errorf("%s: a token minted before the copy gives %d, %v; want subscriber %d", db.Location(), id, err, fx.subscriber)
	}
	s, _, err := db.AddSubscriber(ctx, time.Now(), "new@example.org", "", store.StatusConfirmed, store.SourceCLI)
	if err != nil {
		t.Fatal(err)
	}
	if s.ID <= fx.deletedID {
		t.Errorf("%s: a new subscriber got id %d, want above %d (ids are never reused: tokens name them)", db.Location(), s.ID, fx.deletedID)
	}
	// New rows in every table with an id generator: none collides with a
	// copied id (PostgreSQL's sequences were moved past them).
	now := time.Now().UTC()
	p := store.SeenPost{ID: "post-new", Path: "posts/new.md", Slug: "new", Title: "New", URL: "https://blog.example.com/new/", Hash: "hn", Date: now, Due: true}
	if _, _, err := db.Announce(ctx, now, p); err != nil {
		t.Errorf("%s: announce after the copy: %v", db.Location(), err)
	}
	ids, err := db.CreateManualMailings(ctx, now)
	if err != nil || len(ids) == 0 {
		t.Errorf("%s: a mailing after the copy: %v, %v", db.Location(), ids, err)
	}
	for _, id := range ids {
		if n, err := db.ExpandMailing(ctx, now, id); err != nil || n == 0 {
			t.Errorf("%s: deliveries after the copy: %d, %v", db.Location(), n, err)
		}
	}
	if _, err := db.RecordBounce(ctx, now, store.NewBounce{Email: "x@example.net", Type: store.BounceOther, Source: "dsn"}, store.BouncePolicy{SoftLimit: 3, SoftWindow: time.Hour}); err != nil {
		t.Errorf("%s: a bounce after the copy: %v", db.Location(), err)
	}
}

// TestStateCopySQLite copies a populated state between two SQLite files:
// the same rows in every table, leases expired, tokens still valid, ids
// not reused; the target then refuses a second copy unless -force.
func TestStateCopySQLite(t *testing.T) {
	e := newEnv(t, "")
	src, dst := e.path("a.db"), e.path("b.db")
	a := openSQLite(t, src)
	fx := populateState(t, a)
	want := expireLeases(t, dumpState(t, a))
	a.Close()

	r := e.run(t, "state", "copy", src, dst)
	if r.code != 0 {
		t.Fatalf("state copy: %+v", r)
	}
	for _, table := range []string{"subscribers", "deliveries", "bounce_events", "meta"} {
		if !regexp.MustCompile(`(?m)^\s*` + table + `\s+\d+\s+\d+`).MatchString(r.stdout) {
			t.Errorf("the counts do not list %s:\n%s", table, r.stdout)
		}
	}
	b := openSQLite(t, dst)
	got := dumpState(t, b)
	compareDumps(t, "sqlite → sqlite", want, got)
	for _, c := range []struct{ table, value string }{
		{"announcements", `snapshot=[]byte{`},
		{"mailings", `wait_reason="post x cannot be read: broken"`},
		{"posts", `edited_at=1`},
		{"bounce_events", `raw=[]byte{`},
		{"deliveries", `state="sending"`},
	} {
		if !strings.Contains(strings.Join(got[c.table], "\n"), c.value) {
			t.Errorf("no %s in the copied %s: the fixture must fill it\n%q", c.value, c.table, got[c.table])
		}
	}
	checkAfterCopy(t, b, fx)
	b.Close()

	// Not empty now: refused, and left as it was.
	r = e.run(t, "state", "copy", src, dst)
	if r.code == 0 || !strings.Contains(r.stderr, "not empty") || !strings.Contains(r.stderr, "-force") {
		t.Errorf("second copy into a full target: %+v, want a refusal naming -force", r)
	}
	// -force replaces it.
	b = openSQLite(t, dst)
	if _, _, err := b.AddSubscriber(context.Background(), time.Now(), "extra@example.org", "", store.StatusConfirmed, store.SourceCLI); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if r := e.run(t, "state", "copy", "-force", src, dst); r.code != 0 {
		t.Fatalf("state copy -force: %+v", r)
	}
	b = openSQLite(t, dst)
	compareDumps(t, "sqlite → sqlite -force", want, dumpState(t, b))
	checkAfterCopy(t, b, fx)
}

// TestStateCopyRefusals: a running daemon (the SQLite lock, or a live
// heartbeat), a schema the binary does not know, different columns, a
// missing source and FROM = TO are refused, and the target stays empty.
func TestStateCopyRefusals(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	src := e.path("a.db")
	a := openSQLite(t, src)
	populateState(t, a)
	a.Close()
	targetEmpty := func(path string) {
		t.Helper()
		db := openSQLite(t, path)
		defer db.Close()
		n, err := db.CountSubscribers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n.Confirmed+n.Pending+n.Unsubscribed != 0 {
			t.Errorf("%s holds subscribers after a refused copy: %+v", path, n)
		}
	}

	t.Run("daemon lock", func(t *testing.T) {
		lock, err := sqlite.LockDaemon(src)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Release()
		dst := e.path("lock.db")
		r := e.run(t, "state", "copy", src, dst)
		if r.code == 0 || !strings.Contains(r.stderr, "another herald run") {
			t.Errorf("copy while a daemon runs: %+v", r)
		}
	})
	t.Run("live member", func(t *testing.T) {
		live := e.path("live.db")
		db := openSQLite(t, live)
		populateState(t, db)
		if err := db.Beat(ctx, time.Now(), store.Member{ID: "h:1:x", Host: "h", PID: 1, Version: "v", StartedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		db.Close()
		dst := e.path("member.db")
		r := e.run(t, "state", "copy", live, dst)
		if r.code == 0 || !strings.Contains(r.stderr, "daemons are running") {
			t.Errorf("copy from a state with a live daemon: %+v", r)
		}
		targetEmpty(dst)
	})
	t.Run("schema too new", func(t *testing.T) {
		dst := e.path("new.db")
		openSQLite(t, dst).Close()
		raw, err := sql.Open("sqlite", dst)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)"); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		r := e.run(t, "state", "copy", src, dst)
		if r.code == 0 || !strings.Contains(r.stderr, "schema version 999") {
			t.Errorf("copy into a newer schema: %+v", r)
		}
	})
	t.Run("columns differ", func(t *testing.T) {
		dst := e.path("cols.db")
		openSQLite(t, dst).Close()
		raw, err := sql.Open("sqlite", dst)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec("ALTER TABLE posts ADD COLUMN extra TEXT"); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		r := e.run(t, "state", "copy", src, dst)
		if r.code == 0 || !strings.Contains(r.stderr, "column posts.extra only in") {
			t.Errorf("copy between different schemas: %+v", r)
		}
		targetEmpty(dst)
	})
	t.Run("usage", func(t *testing.T) {
		if r := e.run(t, "state", "copy", e.path("missing.db"), e.path("x.db")); r.code != 1 || !strings.Contains(r.stderr, "no SQLite database at") {
			t.Errorf("missing source: %+v", r)
		}
		if _, err := os.Stat(e.path("missing.db")); err == nil {
			t.Errorf("a missing source was created")
		}
		if r := e.run(t, "state", "copy", src, src); r.code != 2 || !strings.Contains(r.stderr, "same database") {
			t.Errorf("FROM = TO: %+v", r)
		}
		if r := e.run(t, "state", "copy", src); r.code != 2 {
			t.Errorf("one argument: %+v", r)
		}
		if r := e.run(t, "state", "copy", src, "postgres://u:secret@localhost/db"); r.code != 2 || !strings.Contains(r.stderr, "must not contain a password") {
			t.Errorf("password in the URL: %+v", r)
		}
	})
}

// TestStateCopyPostgresRoundTrip: SQLite → PostgreSQL → SQLite gives the
// same rows in every table; on PostgreSQL tokens minted before verify,
// ids are not reused, and a second copy is refused while the target is not
// empty or a daemon is live on it.
func TestStateCopyPostgresRoundTrip(t *testing.T) {
	pg := testDatabase(t)
	e := newEnv(t, "")
	ctx := context.Background()
	src, back := e.path("a.db"), e.path("back.db")
	a := openSQLite(t, src)
	fx := populateState(t, a)
	orig := dumpState(t, a)
	want := expireLeases(t, orig)
	a.Close()

	if r := e.run(t, "state", "copy", src, pg); r.code != 0 {
		t.Fatalf("copy to PostgreSQL: %+v", r)
	}
	p, err := postgres.Open(ctx, pg, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	compareDumps(t, "sqlite → postgres", want, dumpState(t, p))

	if r := e.run(t, "state", "copy", pg, back); r.code != 0 {
		t.Fatalf("copy back to SQLite: %+v", r)
	}
	b := openSQLite(t, back)
	compareDumps(t, "sqlite → postgres → sqlite", want, dumpState(t, b))
	checkAfterCopy(t, b, fx)

	if r := e.run(t, "state", "copy", src, pg); r.code == 0 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("copy into a full PostgreSQL: %+v", r)
	}
	if err := p.Beat(ctx, time.Now(), store.Member{ID: "h:1:x", Host: "h", PID: 1, Version: "v", StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if r := e.run(t, "state", "copy", "-force", src, pg); r.code == 0 || !strings.Contains(r.stderr, "daemons are running") {
		t.Errorf("copy -force onto a PostgreSQL with a live daemon: %+v", r)
	}
	if err := p.Leave(ctx, "h:1:x"); err != nil {
		t.Fatal(err)
	}
	if r := e.run(t, "state", "copy", "-force", src, pg); r.code != 0 {
		t.Fatalf("copy -force: %+v", r)
	}
	compareDumps(t, "sqlite → postgres -force", want, dumpState(t, p))
	checkAfterCopy(t, p, fx)
}

// TestDaemonOnCopiedState: a daemon on SQLite mails a post; the state is
// copied to PostgreSQL and a daemon started on it: it announces and sends
// nothing again, and an unsubscribe link mailed before the copy works.
func TestDaemonOnCopiedState(t *testing.T) {
	pg := testDatabase(t)
	sink := smtptest.New(t, smtptest.Options{NoSTARTTLS: true})
	mail := smtpConfig(sink.Port, "")
	e := newEnv(t, daemonConfig+mail)
	readers := []string{"ann@example.org", "bob@example.org", "cy@example.net"}
	if r := e.run(t, append([]string{"subscribers", "add"}, readers...)...); r.code != 0 {
		t.Fatalf("subscribers add: %+v", r)
	}
	d := e.start(t)
	post := "---\ntitle: Before The Move\ndate: 2026-11-01 10:00:00\n---\nBody.\n\n# TLDR\n\nMailed once.\n"
	if err := os.WriteFile(e.path("posts/2026-11-01-before.md"), []byte(post), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, func() bool { n, _ := sink.Totals(); return n == len(readers) })
	if r := d.stop(t); r.code != 0 {
		t.Fatalf("daemon on SQLite: %+v", r)
	}
	before := announcements(t, e)
	msg := string(sink.To("ann@example.org")[0].Data)
	tok := regexp.MustCompile(`unsubscribe\?token=([A-Za-z0-9_-]+)`).FindStringSubmatch(msg)
	if tok == nil {
		t.Fatalf("no unsubscribe link in the message:\n%s", msg)
	}

	if r := e.run(t, "state", "copy", e.path("var/herald.db"), pg); r.code != 0 {
		t.Fatalf("state copy: %+v", r)
	}
	e.writeConfig(t, daemonConfig+mail+fmt.Sprintf("[state]\ndatabase = %q\n", pg))
	d = e.start(t)
	time.Sleep(2 * time.Second) // a scan, a mail pass: anything re-sent would arrive now
	resp, err := http.Post("http://"+d.addr+"/unsubscribe?token="+tok[1], "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("unsubscribe link mailed before the copy: HTTP %d, want 200", resp.StatusCode)
	}
	if r := d.stop(t); r.code != 0 {
		t.Fatalf("daemon on PostgreSQL: %+v", r)
	}
	for addr, n := range sink.Counts() {
		if n != 1 {
			t.Errorf("%s got %d messages, want 1: the daemon on the copy sent again", addr, n)
		}
	}
	ctx := context.Background()
	p, err := postgres.Open(ctx, pg, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	after, err := p.Announcements(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("%d announcements on the copy after a daemon ran, %d before the copy: announced again", len(after), len(before))
	}
	s, err := p.Subscriber(ctx, "ann@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != store.StatusUnsubscribed {
		t.Errorf("ann is %s after her old unsubscribe link, want unsubscribed", s.Status)
	}
}
