package main

import (
	"context"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"herald/feed"
	"herald/mailer/smtptest"
	"herald/schedule/store"
	"herald/schedule/store/sqlite"
)

// TestSendDryRunAgreesWithSend: `herald send -dry-run POST` lists exactly
// the subscribers `herald send POST` then mails, in order, and gives the
// reason for every difference from "everyone confirmed now": confirmed
// after the mailing was created, already sent, failed permanently, a
// retry not due yet, in flight with another live herald, bounced and
// suppressed, unsubscribed. A delivery left in flight by a herald that
// stopped (lease run out) is sent again, and says so.
func TestSendDryRunAgreesWithSend(t *testing.T) {
	const slug = "counting-readers-without-analytics"
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	clock := newTestClock(t0)
	// One connection: the server sees the messages in the order the send
	// takes them.
	sink := smtptest.New(t, smtptest.Options{NoSTARTTLS: true})
	e := newEnv(t, smtpConfig(sink.Port, `concurrency = 1
`))
	e.clock = clock
	// Confirmed before the post's mailing was created: each gets an
	// outcome below.
	who := []string{"due", "sent", "failed", "retry", "live", "stale", "bounced", "gone"}
	var addrs []string
	for _, w := range who {
		addrs = append(addrs, w+"@example.org")
	}
	mustRun(t, e, append([]string{"subscribers", "add"}, addrs...)...)

	// The post's mailing, created at t0 and expanded (as a daemon would),
	// then the ledger as a stopped daemon, a live one and bounces left it.
	ctx := context.Background()
	post := findPost(t, e, slug)
	db, err := sqlite.Open(ctx, e.path("var/herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Announce(ctx, t0, seenPost(post, t0)); err != nil {
		t.Fatal(err)
	}
	ids, err := db.CreateManualMailings(ctx, t0)
	if err != nil || len(ids) != 1 {
		t.Fatalf("CreateManualMailings = %v, %v", ids, err)
	}
	if n, err := db.ExpandMailing(ctx, t0, ids[0]); err != nil || n != int64(len(who)) {
		t.Fatalf("ExpandMailing = %d, %v", n, err)
	}
	stopped := store.Lease{Owner: "old:1:dead", For: 2 * time.Minute}
	claimed, err := db.ClaimDeliveries(ctx, t0, stopped, 100)
	if err != nil || len(claimed) != len(who) {
		t.Fatalf("claim = %d, %v", len(claimed), err)
	}
	byWho := map[string]int64{}
	for _, d := range claimed {
		byWho[strings.TrimSuffix(d.Email, "@example.org")] = d.ID
	}
	outcomes := []store.Outcome{
		{ID: byWho["sent"], State: store.DeliverySent},
		{ID: byWho["failed"], State: store.DeliveryFailed, Code: 550, Text: "no such user"},
		{ID: byWho["retry"], State: store.DeliveryRetry, Next: t0.Add(3 * time.Hour), Code: 451, Text: "later"},
		// Due at t0+30m: after "stale" (due since t0) in the send's order.
		{ID: byWho["due"], State: store.DeliveryRetry, Next: t0.Add(30 * time.Minute), Code: 451, Text: "later"},
		{ID: byWho["live"], State: store.DeliveryRetry, Next: t0.Add(-time.Minute), Code: 451, Text: "later"},
		{ID: byWho["bounced"], State: store.DeliveryRetry, Next: t0.Add(time.Hour), Code: 451, Text: "later"},
		{ID: byWho["gone"], State: store.DeliveryRetry, Next: t0.Add(time.Hour), Code: 451, Text: "later"},
	}
	if n, err := db.RecordOutcomes(ctx, t0, stopped.Owner, outcomes); err != nil || n != len(outcomes) {
		t.Fatalf("RecordOutcomes = %d, %v", n, err)
	}
	// "stale" stays in flight with the stopped owner (lease ended at
	// t0+2m); "live" is in flight with a live herald for hours.
	now := t0.Add(time.Hour)
	live := store.Lease{Owner: "peer:2:live", For: 5 * time.Hour}
	if got, err := db.ClaimDeliveries(ctx, t0, live, 1); err != nil || len(got) != 1 || got[0].ID != byWho["live"] {
		t.Fatalf("claim as live = %+v, %v", got, err)
	}
	bounced, err := db.Subscriber(ctx, "bounced@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordBounce(ctx, now, store.NewBounce{SubscriberID: bounced.ID, Email: "bounced@example.org", Type: store.BounceHard, Source: "dsn", Status: "5.1.1"}, store.BouncePolicy{SoftLimit: 3, SoftWindow: time.Hour}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	clock.Set(now)
	mustRun(t, e, "subscribers", "remove", "gone@example.org")
	mustRun(t, e, "subscribers", "add", "late@example.org")

	r := mustRun(t, e, "send", "-dry-run", slug)
	t.Logf("dry run:\n%s", r.stdout)
	planned, reasons := parsePlan(t, r.stdout)
	for addr, want := range map[string]string{
		"late@example.org":    "after the mailing was created (2026-11-01 12:00:00 UTC): not included",
		"sent@example.org":    "already sent",
		"failed@example.org":  "failed permanently",
		"retry@example.org":   "retry scheduled at 2026-11-01 15:00:00 UTC",
		"live@example.org":    "being sent by another herald process (peer:2:live",
		"bounced@example.org": "bounced: suppressed since",
		"gone@example.org":    "unsubscribed 2026-11-01 13:00:00 UTC",
	} {
		if !strings.Contains(reasons[addr], want) {
			t.Errorf("dry run says %q for %s, want %q", reasons[addr], addr, want)
		}
	}
	wantPlan := []string{"stale@example.org", "due@example.org"}
	if !slices.Equal(planned, wantPlan) {
		t.Errorf("dry run recipients = %v, want %v", planned, wantPlan)
	}
	if !strings.Contains(r.stdout, "recipients: 2 (of 8 confirmed now)") {
		t.Errorf("dry run count:\n%s", r.stdout)
	}

	r = mustRun(t, e, "send", slug)
	// The summary is the post's: the retry due later and the delivery in
	// flight elsewhere are not counted as due, and are named.
	if !strings.Contains(r.stdout, "sent 2, failed 0, retrying later 0 (of 2 due); 2 more not due yet or being sent by another herald") {
		t.Errorf("the send's summary:\n%s", r.stdout)
	}
	var got []string
	for _, msg := range sink.Messages() {
		got = append(got, msg.To...)
	}
	if !slices.Equal(got, planned) {
		t.Errorf("the send mailed %v, in that order; the dry run said %v\n%s", got, planned, r.stdout)
	}
	// Nothing left for this run: a second dry run plans no one.
	r = mustRun(t, e, "send", "-dry-run", slug)
	if p, _ := parsePlan(t, r.stdout); len(p) != 0 {
		t.Errorf("after the send, the dry run still plans %v", p)
	}
}

// TestSendDryRunNewMailing: with no announcement yet, the send creates one
// now: everyone confirmed now who never had the post is planned, and the
// send mails exactly them.
func TestSendDryRunNewMailing(t *testing.T) {
	const slug = "counting-readers-without-analytics"
	e := newEnv(t, "")
	e.clock = newTestClock(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	mustRun(t, e, "subscribers", "add", "a@example.org", "b@example.org", "c@example.org")
	mustRun(t, e, "subscribers", "remove", "b@example.org")
	r := mustRun(t, e, "send", "-dry-run", slug)
	planned, reasons := parsePlan(t, r.stdout)
	if want := []string{"a@example.org", "c@example.org"}; !slices.Equal(planned, want) || len(reasons) != 0 {
		t.Errorf("dry run = %v (not sent: %v), want %v and no differences\n%s", planned, reasons, want, r.stdout)
	}
	mustRun(t, e, "send", slug)
	if got := maildirRecipients(t, e); !slices.Equal(got, slices.Sorted(slices.Values(planned))) {
		t.Errorf("the send mailed %v; the dry run said %v", got, planned)
	}
}

// parsePlan reads the recipients (in order) and the reasons of the
// subscribers not sent to from a dry run's output.
func parsePlan(t *testing.T, out string) ([]string, map[string]string) {
	t.Helper()
	var (
		planned []string
		reasons = map[string]string{}
		section string
	)
	for line := range strings.SplitSeq(out, "\n") {
		switch {
		case strings.HasPrefix(line, "recipients:"):
			section = "send"
		case strings.HasPrefix(line, "not sent:"):
			section = "not"
		case !strings.HasPrefix(line, "  "):
			section = ""
		case section == "send":
			addr, _, _ := strings.Cut(strings.TrimSpace(line), " ")
			planned = append(planned, addr)
		case section == "not":
			addr, reason, _ := strings.Cut(strings.TrimSpace(line), "  ")
			reasons[addr] = reason
		}
	}
	return planned, reasons
}

// maildirRecipients returns the To addresses of the messages in the
// environment's maildir, sorted.
func maildirRecipients(t *testing.T, e *testEnv) []string {
	t.Helper()
	files, _ := filepath.Glob(e.path("var/mail/new/*"))
	var out []string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(fh)
		if err != nil {
			fh.Close()
			t.Fatal(err)
		}
		to, err := mail.ParseAddress(msg.Header.Get("To"))
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, to.Address)
	}
	slices.Sort(out)
	return out
}

// findPost scans the environment's posts as herald does and returns the
// one with that slug.
func findPost(t *testing.T, e *testEnv, slug string) *feed.Post {
	t.Helper()
	m := NewMain()
	m.ConfigPath = e.config
	if err := m.loadConfig(); err != nil {
		t.Fatal(err)
	}
	snap, err := feed.NewLoader(&m.Config.Site, m.Config.Posts.Dir, nil).Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range snap.Posts {
		if p.Slug == slug {
			return p
		}
	}
	t.Fatalf("no post %s", slug)
	return nil
}

// TestSendDryRunMailsAsAnnounced: a post edited to `newsletter: false`
// after its announcement is still mailed as it was announced (its
// snapshot) to those the mailing has not reached yet; the dry run says so
// rather than "never mailed", and the send agrees.
func TestSendDryRunMailsAsAnnounced(t *testing.T) {
	const slug = "counting-readers-without-analytics"
	const file = "posts/2026-10-08-counting-readers-without-analytics.md"
	clock := newTestClock(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	sink := smtptest.New(t, smtptest.Options{NoSTARTTLS: true, Fail4xx: map[string]int{"later@example.org": 1}})
	e := newEnv(t, smtpConfig(sink.Port, ""))
	e.clock = clock
	mustRun(t, e, "subscribers", "add", "now@example.org", "later@example.org")
	r := mustRun(t, e, "send", slug)
	if sink.Count("now@example.org") != 1 || sink.Count("later@example.org") != 0 {
		t.Fatalf("first send: %v\n%s", sink.Counts(), r.stdout)
	}
	src, err := os.ReadFile(e.path(file))
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), "\n---\n", "\nnewsletter: false\n---\n", 1)
	if err := os.WriteFile(e.path(file), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	clock.Set(time.Date(2026, 11, 1, 14, 0, 0, 0, time.UTC)) // the retry is due
	r = mustRun(t, e, "send", "-dry-run", slug)
	planned, reasons := parsePlan(t, r.stdout)
	if !slices.Equal(planned, []string{"later@example.org"}) || !strings.Contains(reasons["now@example.org"], "already sent") ||
		strings.Contains(r.stdout, "never mailed") || !strings.Contains(r.stdout, "subject:    Counting Readers Without Analytics") {
		t.Errorf("dry run after the edit:\n%s", r.stdout)
	}
	mustRun(t, e, "send", slug)
	if sink.Count("later@example.org") != 1 || sink.Count("now@example.org") != 1 {
		t.Errorf("the send mailed %v; the dry run said %v", sink.Counts(), planned)
	}
}
