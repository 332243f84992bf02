package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"herald/schedule/store"
	"herald/schedule/store/sqlite"
)

// mailingSent returns how many deliveries of the newest mailing were sent.
func mailingSent(t *testing.T, e *testEnv) int {
	t.Helper()
	db, err := sqlite.Open(context.Background(), e.path("var/herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stats, err := db.DeliveryStats(context.Background(), 1)
	if err != nil || len(stats) != 1 {
		t.Fatalf("DeliveryStats = %+v, %v", stats, err)
	}
	return stats[0].Sent
}

func mustRun(t *testing.T, e *testEnv, args ...string) result {
	t.Helper()
	r := e.run(t, args...)
	if r.code != 0 {
		t.Fatalf("herald %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// TestSubscribersCaseInsensitive: two spellings of one address are one
// subscriber, who gets one mail; the domain is normalised (IDNA).
func TestSubscribersCaseInsensitive(t *testing.T) {
	e := newEnv(t, "")
	r := mustRun(t, e, "subscribers", "add", "alice@example.org", "ALICE@Example.org", "bob@Bücher.example")
	if !strings.Contains(r.stdout, "added alice@example.org") || !strings.Contains(r.stdout, "alice@example.org is already on the list") {
		t.Errorf("subscribers add:\n%s", r.stdout)
	}
	r = mustRun(t, e, "subscribers", "list")
	if n := strings.Count(strings.ToLower(r.stdout), "alice@example.org"); n != 1 {
		t.Errorf("list shows alice %d times:\n%s", n, r.stdout)
	}
	if !strings.Contains(r.stdout, "bob@xn--bcher-kva.example") {
		t.Errorf("list does not show the IDNA form of bob's domain:\n%s", r.stdout)
	}
	mustRun(t, e, "send", "counting-readers-without-analytics")
	mails, _ := filepath.Glob(e.path("var/mail/new/*"))
	if len(mails) != 2 {
		t.Errorf("%d mails for two subscribers, want 2", len(mails))
	}
}

// TestSubscribersRemoveKeepsHistory: remove unsubscribes and keeps the
// ledger; forget erases the address but not the counts.
func TestSubscribersRemoveKeepsHistory(t *testing.T) {
	e := newEnv(t, "")
	mustRun(t, e, "subscribers", "add", "carol@example.org")
	mustRun(t, e, "send", "counting-readers-without-analytics")
	if n := mailingSent(t, e); n != 1 {
		t.Fatalf("sent %d, want 1", n)
	}
	r := mustRun(t, e, "subscribers", "remove", "Carol@example.org")
	if !strings.Contains(r.stdout, "removed carol@example.org") {
		t.Errorf("remove said:\n%s", r.stdout)
	}
	if n := mailingSent(t, e); n != 1 {
		t.Errorf("after remove the ledger counts %d sent, want 1 (history kept)", n)
	}
	if st := subscriberStatus(t, e, "carol@example.org"); st != store.StatusUnsubscribed {
		t.Errorf("after remove carol is %s", st)
	}
	// add alone does not undo an unsubscription; -resubscribe does, and
	// the ledger still knows she got the post: sending it again sends nothing.
	r = mustRun(t, e, "subscribers", "add", "carol@example.org")
	if !strings.Contains(r.stdout, "-resubscribe") {
		t.Errorf("add of an unsubscribed address said:\n%s", r.stdout)
	}
	mustRun(t, e, "subscribers", "add", "-resubscribe", "carol@example.org")
	if st := subscriberStatus(t, e, "carol@example.org"); st != store.StatusConfirmed {
		t.Errorf("after -resubscribe carol is %s", st)
	}
	mustRun(t, e, "send", "counting-readers-without-analytics")
	if mails, _ := filepath.Glob(e.path("var/mail/new/*")); len(mails) != 1 {
		t.Errorf("%d mails after re-adding and sending again, want 1", len(mails))
	}

	r = mustRun(t, e, "subscribers", "forget", "carol@example.org")
	if !strings.Contains(r.stdout, "forgot carol@example.org") {
		t.Errorf("forget said:\n%s", r.stdout)
	}
	if n := mailingSent(t, e); n != 1 {
		t.Errorf("after forget the ledger counts %d sent, want 1 (anonymous counts kept)", n)
	}
	r = mustRun(t, e, "subscribers", "export")
	if strings.Contains(r.stdout, "carol") {
		t.Errorf("export after forget still holds carol:\n%s", r.stdout)
	}
	for _, f := range []string{"var/herald.db", "var/herald.db-wal"} {
		if b, err := os.ReadFile(e.path(f)); err == nil && strings.Contains(strings.ToLower(string(b)), "carol@example.org") {
			t.Errorf("%s still holds carol's address after forget", f)
		}
	}
	if r := e.run(t, "subscribers", "forget", "carol@example.org"); r.code != 1 || !strings.Contains(r.stderr, "not on the list") {
		t.Errorf("second forget: %+v", r)
	}
}
