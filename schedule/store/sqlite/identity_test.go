package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"herald/schedule/store"
)

// migrateBefore creates a database at path migrated up to, not including,
// the migration whose name contains name, and returns its handle.
func migrateBefore(t *testing.T, path, name string) *sql.DB {
	t.Helper()
	migs := mustMigrations(t)
	k := slices.IndexFunc(migs, func(m migration) bool { return strings.Contains(m.name, name) })
	if k < 0 {
		t.Fatalf("no migration named *%s*", name)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", dsn(path, 2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	db := &DB{sql: raw, path: path, busy: 2 * time.Second}
	if err := db.migrate(context.Background(), migs[:k]); err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestMigrationMergesCaseDuplicates: the migration to case-insensitive
// addresses merges the duplicates an older herald let in, keeping the
// oldest confirmed row with its id and history, never losing a later
// unsubscription, and records what it merged.
func TestMigrationMergesCaseDuplicates(t *testing.T) {
	ctx := context.Background()
	path := tempDB(t)
	raw := migrateBefore(t, path, "subscriber_identity")
	t1, t2, t3 := int64(1_700_000_000), int64(1_700_100_000), int64(1_700_200_000)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := raw.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// The old key: the local part as given, the domain in lower case.
	for _, s := range []struct {
		id                      int64
		email, status           string
		created, conf, unsubbed any
	}{
		{1, "alice@example.org", "confirmed", t1, t1, nil},
		{2, "ALICE@Example.org", "confirmed", t2, t2, nil},
		{3, "bob@example.org", "pending", t1, nil, nil},
		{4, "Bob@example.org", "confirmed", t2, t2, nil},
		{5, "carol@example.org", "confirmed", t1, t1, nil},
		{6, "CAROL@example.org", "unsubscribed", t2, t2, t3},
		{7, "Dave@Example.org", "confirmed", t1, t1, nil},
	} {
		key := s.email[:strings.IndexByte(s.email, '@')] + strings.ToLower(s.email[strings.IndexByte(s.email, '@'):])
		exec(`INSERT INTO subscribers (id, email, email_key, name, status, source, created_at, confirmed_at, unsubscribed_at)
VALUES (?, ?, ?, '', ?, 'cli', ?, ?, ?)`, s.id, s.email, key, s.status, s.created, s.conf, s.unsubbed)
	}
	exec(`INSERT INTO mailings (id, kind, created_at, cutoff, expanded_at) VALUES (1, 'post', ?1, ?1, ?1), (2, 'post', ?1, ?1, ?1), (3, 'post', ?1, ?1, ?1)`, t3)
	delivery := func(mailing, sub int64, state string) {
		exec(`INSERT INTO deliveries (mailing_id, subscriber_id, state, next_attempt_at, queued_at, created_at, updated_at)
VALUES (?, ?, ?, ?4, ?4, ?4, ?4)`, mailing, sub, state, t3)
	}
	delivery(1, 1, "sent") // both alices got mailing 1
	delivery(1, 2, "sent")
	delivery(2, 1, "pending") // only ALICE got mailing 2 so far
	delivery(2, 2, "sent")
	delivery(3, 2, "failed") // a history only the duplicate has
	exec("UPDATE deliveries SET last_error = '550 <ALICE@Example.org> unknown' WHERE state = 'failed'")
	delivery(3, 5, "pending")
	delivery(3, 6, "sent")
	raw.Close()

	// Open it: the rest migrates.
	db := openTest(t, path)

	var got []string
	db.EachSubscriber(ctx, "", func(s store.Subscriber) error {
		got = append(got, s.Email+" "+string(s.Status))
		return nil
	})
	want := []string{"alice@example.org confirmed", "Bob@example.org confirmed", "carol@example.org unsubscribed", "Dave@Example.org confirmed"}
	if !slices.Equal(got, want) {
		t.Errorf("after the migration:\n got %q\nwant %q", got, want)
	}
	if c, err := db.Subscriber(ctx, "carol@example.org"); err != nil || c.ID != 5 || c.UnsubscribedAt.Unix() != t3 {
		t.Errorf("carol = %+v, %v; want #5 unsubscribed at the duplicate's time", c, err)
	}
	if d, err := db.Subscriber(ctx, "DAVE@example.ORG"); err != nil || d.ID != 7 {
		t.Errorf("Dave by another case = %+v, %v", d, err)
	}
	if _, created, err := db.AddSubscriber(ctx, time.Unix(t3, 0), "dave@example.org", "", store.StatusConfirmed, store.SourceCLI); err != nil || created {
		t.Errorf("adding dave@ again: created %v, %v", created, err)
	}

	// History: alice (#1) got mailings 1 and 2, and failed 3.
	rows, err := db.sql.Query("SELECT mailing_id, subscriber_id, state FROM deliveries ORDER BY mailing_id, subscriber_id")
	if err != nil {
		t.Fatal(err)
	}
	var ledger []string
	for rows.Next() {
		var m, s int64
		var st string
		rows.Scan(&m, &s, &st)
		ledger = append(ledger, strings.Join([]string{itoa(m), itoa(s), st}, "/"))
	}
	rows.Close()
	wantLedger := []string{"1/1/sent", "2/1/sent", "3/1/failed", "3/5/sent"}
	if !slices.Equal(ledger, wantLedger) {
		t.Errorf("ledger after the merge:\n got %q\nwant %q", ledger, wantLedger)
	}

	ms, err := db.SubscriberMerges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var merges []string
	for _, m := range ms {
		merges = append(merges, m.MergedEmail+" ("+string(m.MergedStatus)+") into #"+itoa(m.KeptID)+" "+m.KeptEmail+map[bool]string{true: " unsubscribed"}[m.Unsubscribed])
	}
	wantMerges := []string{
		"ALICE@Example.org (confirmed) into #1 alice@example.org",
		"bob@example.org (pending) into #4 Bob@example.org",
		"CAROL@example.org (unsubscribed) into #5 carol@example.org unsubscribed",
	}
	if !slices.Equal(merges, wantMerges) {
		t.Errorf("merges:\n got %q\nwant %q", merges, wantMerges)
	}
	// Forgetting a kept subscriber forgets its merges (they hold addresses).
	if err := db.ForgetSubscriber(ctx, time.Unix(t3, 0), "alice@example.org"); err != nil {
		t.Fatal(err)
	}
	if ms, _ := db.SubscriberMerges(ctx); len(ms) != 2 {
		t.Errorf("after forgetting alice, %d merges, want 2", len(ms))
	}
	var n int
	db.sql.QueryRow(`SELECT count(*) FROM subscribers WHERE email LIKE '%alice%' OR name <> ''`).Scan(&n)
	var errs int
	db.sql.QueryRow(`SELECT count(*) FROM deliveries WHERE last_error <> ''`).Scan(&errs)
	if n != 0 || errs != 0 {
		t.Errorf("after forget: %d rows still name alice, %d error texts kept", n, errs)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
