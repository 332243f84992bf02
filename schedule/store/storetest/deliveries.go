package storetest

import (
	"context"
	"errors"
	"fmt"
	"herald/schedule/store"
	"slices"
	"sync"
	"testing"
	"time"
)

// mailPost is a due SeenPost named id dated date.
func mailPost(id string, date time.Time) store.SeenPost {
	return store.SeenPost{
		ID: id, Path: "_posts/" + id + ".md", Slug: id, Title: "Title " + id,
		URL: "https://example.com/" + id + "/", Hash: "h-" + id, Date: date, Due: true,
	}
}

// announce queues an automatic announcement of each post id at now (dated
// one hour before now, ids in date order), seeding the database first.
func announce(t testing.TB, db store.Store, now time.Time, ids ...string) {
	t.Helper()
	ctx := context.Background()
	// The first run, before the posts' dates: they are new, not archive.
	if _, err := db.Record(ctx, now.Add(-2*time.Hour), nil, false); err != nil {
		t.Fatal(err)
	}
	var ps []store.SeenPost
	for i, id := range ids {
		ps = append(ps, mailPost(id, now.Add(-time.Hour+time.Duration(i)*time.Minute)))
	}
	res, err := db.Record(ctx, now, ps, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Announced) != len(ids) || (len(ids) > 0 && !res.Announced[0].Queued) {
		t.Fatalf("Record announced %+v, want %d queued", res.Announced, len(ids))
	}
}

func createMailings(t testing.TB, db store.Store, now time.Time, digest bool) []int64 {
	t.Helper()
	ids, err := db.CreateMailings(context.Background(), now, digest)
	if err != nil {
		t.Fatalf("CreateMailings: %v", err)
	}
	return ids
}

// expand expands mailing id and checks it created want deliveries.
func expand(t testing.TB, db store.Store, now time.Time, id, want int64) {
	t.Helper()
	n, err := db.ExpandMailing(context.Background(), now, id)
	if err != nil {
		t.Fatalf("ExpandMailing(%d): %v", id, err)
	}
	if n != want {
		t.Fatalf("ExpandMailing(%d) created %d deliveries, want %d", id, n, want)
	}
}

func countDeliveries(t testing.TB, db store.Store) store.DeliveryCounts {
	t.Helper()
	c, err := db.CountDeliveries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// worker is the lease of the worker in the delivery cases.
var worker = store.Lease{Owner: "test-host:1:w1", For: 2 * time.Minute}

func claim(t testing.TB, db store.Store, now time.Time, limit int) []store.Delivery {
	t.Helper()
	return claimAs(t, db, now, worker, limit)
}

func claimAs(t testing.TB, db store.Store, now time.Time, lease store.Lease, limit int) []store.Delivery {
	t.Helper()
	list, err := db.ClaimDeliveries(context.Background(), now, lease, limit)
	if err != nil {
		t.Fatalf("ClaimDeliveries: %v", err)
	}
	return list
}

func emails(ds []store.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Email)
	}
	slices.Sort(out)
	return out
}

// recordAs records outcomes as owner and checks that want of them were
// recorded.
func recordAs(t testing.TB, db store.Store, now time.Time, owner string, want int, outcomes ...store.Outcome) {
	t.Helper()
	n, err := db.RecordOutcomes(context.Background(), now, owner, outcomes)
	if err != nil || n != want {
		t.Errorf("RecordOutcomes(%+v) as %s = %d, %v; want %d recorded", outcomes, owner, n, err, want)
	}
}

func postIDs(m store.Mailing) []string {
	var out []string
	for _, p := range m.Posts {
		out = append(out, p.PostID)
	}
	return out
}

func testCreateMailingsPerPost(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	if got := createMailings(t, db, t0, false); len(got) != 0 {
		t.Errorf("CreateMailings on an empty queue = %v, want none", got)
	}
	announce(t, db, t0, "a", "b")
	ids := createMailings(t, db, t0.Add(time.Minute), false)
	if len(ids) != 2 {
		t.Fatalf("CreateMailings = %v, want 2 mailings", ids)
	}
	for i, want := range []string{"a", "b"} {
		m, err := db.Mailing(ctx, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind != store.KindPost || !slices.Equal(postIDs(m), []string{want}) || !m.Cutoff.Equal(t0) ||
			!m.CreatedAt.Equal(t0.Add(time.Minute)) || !m.ExpandedAt.IsZero() {
			t.Errorf("mailing %d = %+v, want post %s, cutoff %v (the announcement's time)", ids[i], m, want, t0)
		}
		if p := m.Posts[0]; p.Title != "Title "+want || p.URL != "https://example.com/"+want+"/" {
			t.Errorf("mailing post = %+v", p)
		}
	}
	// Taken off the queue: a second call finds nothing; mailed_at is set.
	if got := createMailings(t, db, t0.Add(2*time.Minute), false); len(got) != 0 {
		t.Errorf("second CreateMailings = %v, want none", got)
	}
	for _, a := range announcements(t, db) {
		if !a.MailedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("announcement %s MailedAt = %v, want %v", a.PostID, a.MailedAt, t0.Add(time.Minute))
		}
	}
	if got, err := db.UnexpandedMailings(ctx); err != nil || !slices.Equal(got, ids) {
		t.Errorf("UnexpandedMailings = %v, %v; want %v", got, err, ids)
	}
	if _, err := db.Mailing(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Mailing(999) error = %v, want store.ErrNotFound", err)
	}
}

func testCreateMailingsDigest(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	// Announced in an order that is not date order, after a first run.
	if _, err := db.Record(ctx, t0.Add(-4*time.Hour), nil, false); err != nil {
		t.Fatal(err)
	}
	for _, p := range []store.SeenPost{mailPost("late", t0.Add(-time.Hour)), mailPost("early", t0.Add(-3*time.Hour)), mailPost("mid", t0.Add(-2*time.Hour))} {
		if _, err := db.Record(ctx, t0, []store.SeenPost{p}, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := db.Announce(ctx, t0, mailPost("manual", t0.Add(-4*time.Hour))); err != nil {
		t.Fatal(err)
	}

	// The worker in digest mode takes only the manual announcement.
	manual, err := db.CreateManualMailings(ctx, t0.Add(time.Minute))
	if err != nil || len(manual) != 1 {
		t.Fatalf("CreateManualMailings = %v, %v; want one mailing", manual, err)
	}
	if m, _ := db.Mailing(ctx, manual[0]); m.Kind != store.KindPost || !slices.Equal(postIDs(m), []string{"manual"}) {
		t.Errorf("manual mailing = %+v", m)
	}
	if again, _ := db.CreateManualMailings(ctx, t0.Add(time.Minute)); len(again) != 0 {
		t.Errorf("second CreateManualMailings = %v, want none", again)
	}

	tick := t0.Add(time.Hour)
	ids := createMailings(t, db, tick, true)
	if len(ids) != 1 {
		t.Fatalf("digest CreateMailings = %v, want one mailing", ids)
	}
	m, err := db.Mailing(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != store.KindDigest || !m.Cutoff.Equal(tick) {
		t.Errorf("digest = kind %s cutoff %v, want digest cutoff %v (its creation)", m.Kind, m.Cutoff, tick)
	}
	if got, want := postIDs(m), []string{"early", "mid", "late"}; !slices.Equal(got, want) {
		t.Errorf("digest posts = %v, want date order %v", got, want)
	}
	if got := createMailings(t, db, tick.Add(time.Hour), true); len(got) != 0 {
		t.Errorf("digest with nothing waiting = %v, want no mailing", got)
	}
}

func testExpandMailingRecipients(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	early := addSub(t, db, t0.Add(-time.Hour), "early@example.com", store.StatusConfirmed)
	atTime := addSub(t, db, t0, "same-second@example.com", store.StatusConfirmed)
	addSub(t, db, t0.Add(-time.Hour), "pending@example.com", store.StatusPending)
	addSub(t, db, t0.Add(-time.Hour), "unsub@example.com", store.StatusUnsubscribed)
	reconf := addSub(t, db, t0.Add(-time.Hour), "reconfirmed@example.com", store.StatusConfirmed)

	announce(t, db, t0, "p")
	// After the announcement: a new subscriber, and one who left and came
	// back (confirmed_at moves), both miss this post.
	addSub(t, db, t0.Add(time.Second), "late@example.com", store.StatusConfirmed)
	if _, err := db.SetSubscriberStatus(ctx, t0.Add(time.Second), reconf.ID, store.StatusUnsubscribed); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SetSubscriberStatus(ctx, t0.Add(2*time.Second), reconf.ID, store.StatusConfirmed); err != nil {
		t.Fatal(err)
	}

	ids := createMailings(t, db, t0.Add(time.Minute), false)
	expand(t, db, t0.Add(time.Minute), ids[0], 2)
	expand(t, db, t0.Add(time.Hour), ids[0], 0) // idempotent
	m, _ := db.Mailing(ctx, ids[0])
	if !m.ExpandedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("ExpandedAt = %v, want %v", m.ExpandedAt, t0.Add(time.Minute))
	}
	if got, _ := db.UnexpandedMailings(ctx); len(got) != 0 {
		t.Errorf("UnexpandedMailings after expand = %v", got)
	}
	got := emails(claim(t, db, t0.Add(time.Minute), 100))
	if want := []string{early.Email, atTime.Email}; !slices.Equal(got, want) {
		t.Errorf("recipients = %v, want %v", got, want)
	}
	if _, err := db.ExpandMailing(ctx, t0, 999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ExpandMailing(999) error = %v, want store.ErrNotFound", err)
	}
}

func testExpandDigestCutoff(t *testing.T, bk Backend) {
	db := bk.fresh(t)
	announce(t, db, t0, "a", "b")
	// Confirmed after the posts were announced but before the digest tick:
	// the digest goes to everyone confirmed when it is made.
	addSub(t, db, t0.Add(time.Minute), "before-tick@example.com", store.StatusConfirmed)
	tick := t0.Add(time.Hour)
	ids := createMailings(t, db, tick, true)
	addSub(t, db, tick.Add(time.Second), "after-tick@example.com", store.StatusConfirmed)
	expand(t, db, tick.Add(time.Minute), ids[0], 1)
	if got := emails(claim(t, db, tick.Add(time.Minute), 10)); !slices.Equal(got, []string{"before-tick@example.com"}) {
		t.Errorf("digest recipients = %v", got)
	}
}

func testSkipMailing(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	addSub(t, db, t0.Add(-time.Hour), "s@example.com", store.StatusConfirmed)
	announce(t, db, t0, "p")
	ids := createMailings(t, db, t0, false)
	if err := db.SkipMailing(ctx, t0, ids[0], "newsletter: false"); err != nil {
		t.Fatal(err)
	}
	expand(t, db, t0, ids[0], 0)
	if m, _ := db.Mailing(ctx, ids[0]); m.Skipped != "newsletter: false" || m.ExpandedAt.IsZero() {
		t.Errorf("skipped mailing = %+v", m)
	}
	if got, _ := db.UnexpandedMailings(ctx); len(got) != 0 {
		t.Errorf("UnexpandedMailings = %v, want none", got)
	}
	if err := db.SkipMailing(ctx, t0, 999, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SkipMailing(999) error = %v, want store.ErrNotFound", err)
	}
}

// setupDeliveries makes n confirmed subscribers and one expanded mailing of
// post "p" to all of them, and returns the mailing id.
func setupDeliveries(t testing.TB, db store.Store, n int) int64 {
	t.Helper()
	for i := range n {
		addSub(t, db, t0.Add(-time.Hour), fmt.Sprintf("s%03d@example.com", i), store.StatusConfirmed)
	}
	announce(t, db, t0, "p")
	ids := createMailings(t, db, t0, false)
	expand(t, db, t0, ids[0], int64(n))
	return ids[0]
}

func testDeliveryLifecycle(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	mid := setupDeliveries(t, db, 5)
	now := t0.Add(time.Minute)

	if next, err := db.NextRetry(ctx); err != nil || !next.Equal(t0) {
		t.Errorf("NextRetry = %v, %v; want %v (pending rows are due)", next, err, t0)
	}
	first := claim(t, db, now, 3)
	if len(first) != 3 || first[0].Email != "s000@example.com" || first[0].Attempts != 1 || first[0].MailingID != mid ||
		!first[0].QueuedAt.Equal(t0) {
		t.Fatalf("claim = %+v", first)
	}
	rest := claim(t, db, now, 10)
	if len(rest) != 2 {
		t.Fatalf("second claim = %d deliveries, want the other 2", len(rest))
	}
	if more := claim(t, db, now, 10); len(more) != 0 {
		t.Fatalf("third claim = %+v, want none (all sending)", more)
	}
	if c := countDeliveries(t, db); c != (store.DeliveryCounts{Sending: 5}) {
		t.Errorf("counts = %+v, want 5 sending", c)
	}

	retryAt := now.Add(10 * time.Minute)
	recordAs(t, db, now, worker.Owner, 3,
		store.Outcome{ID: first[0].ID, State: store.DeliverySent},
		store.Outcome{ID: first[1].ID, State: store.DeliveryRetry, Next: retryAt, Code: 451, Text: "4.3.0 try later"},
		store.Outcome{ID: first[2].ID, State: store.DeliveryFailed, Code: 550, Text: "5.1.1 no such user"})
	// Recording twice, or a delivery not in flight: not recorded.
	recordAs(t, db, now, worker.Owner, 0, store.Outcome{ID: first[0].ID, State: store.DeliverySent})
	recordAs(t, db, now, worker.Owner, 0, store.Outcome{ID: first[1].ID, State: store.DeliveryFailed, Code: 550, Text: "x"})

	// In flight at a "crash": rest. One released (never sent), one left
	// sending; its lease runs out 2 minutes after the claim.
	if n, err := db.ReleaseDeliveries(ctx, now, "someone-else", []int64{rest[0].ID}); err != nil || n != 0 {
		t.Errorf("ReleaseDeliveries by another owner = %d, %v; want 0", n, err)
	}
	if n, err := db.ReleaseDeliveries(ctx, now, worker.Owner, []int64{rest[0].ID}); err != nil || n != 1 {
		t.Errorf("ReleaseDeliveries = %d, %v; want 1", n, err)
	}
	if got, err := db.RequeueExpired(ctx, now.Add(worker.For-time.Second)); err != nil || len(got) != 0 {
		t.Errorf("RequeueExpired before the lease ends = %+v, %v; want none", got, err)
	}
	if got, err := db.RequeueExpired(ctx, now.Add(worker.For)); err != nil ||
		!slices.Equal(got, []store.Expired{{ID: rest[1].ID, Owner: worker.Owner}}) {
		t.Errorf("RequeueExpired = %+v, %v; want delivery %d of %s", got, err, rest[1].ID, worker.Owner)
	}
	if c := countDeliveries(t, db); c != (store.DeliveryCounts{Pending: 2, Sent: 1, Retry: 1, Failed: 1}) {
		t.Errorf("counts = %+v", c)
	}
	if n, _ := db.WaitingDeliveries(ctx); n != 3 {
		t.Errorf("WaitingDeliveries = %d, want 3", n)
	}

	again := claim(t, db, now, 10)
	if got := emails(again); !slices.Equal(got, emails(rest)) {
		t.Errorf("claim after requeue = %v, want %v (not the retry row: not due)", got, emails(rest))
	}
	for _, d := range again {
		want := 2 // requeued: the crashed attempt counts
		if d.ID == rest[0].ID {
			want = 1 // released: never attempted
		}
		if d.Attempts != want {
			t.Errorf("%s attempts = %d, want %d", d.Email, d.Attempts, want)
		}
		recordAs(t, db, now, worker.Owner, 1, store.Outcome{ID: d.ID, State: store.DeliverySent})
	}
	if next, err := db.NextRetry(ctx); err != nil || !next.Equal(retryAt) {
		t.Errorf("NextRetry = %v, %v; want %v", next, err, retryAt)
	}
	if got := claim(t, db, retryAt.Add(-time.Second), 10); len(got) != 0 {
		t.Errorf("claim before the retry time = %+v", got)
	}
	r := claim(t, db, retryAt, 10)
	if len(r) != 1 || r[0].ID != first[1].ID || r[0].Attempts != 2 {
		t.Fatalf("claim at the retry time = %+v", r)
	}
	recordAs(t, db, retryAt, worker.Owner, 1, store.Outcome{ID: r[0].ID, State: store.DeliverySent})
	if _, err := db.NextRetry(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("NextRetry with nothing waiting error = %v, want store.ErrNotFound", err)
	}

	stats, err := db.DeliveryStats(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 1 || stats[0].MailingID != mid || stats[0].Sent != 4 || stats[0].Failed != 1 ||
		stats[0].Total() != 5 || len(stats[0].Posts) != 1 || stats[0].Posts[0].PostID != "p" {
		t.Errorf("DeliveryStats = %+v", stats)
	}
	failed, err := db.FailedDeliveries(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[0].Email != first[2].Email || failed[0].Code != 550 ||
		failed[0].Error != "5.1.1 no such user" || !slices.Equal(failed[0].PostIDs, []string{"p"}) {
		t.Errorf("FailedDeliveries = %+v", failed)
	}

	later := now.Add(100 * time.Hour)
	if n, err := db.RequeueFailed(ctx, later, "other-post"); err != nil || n != 0 {
		t.Errorf("RequeueFailed(other) = %d, %v; want 0", n, err)
	}
	if n, err := db.RequeueFailed(ctx, later, "p"); err != nil || n != 1 {
		t.Errorf("RequeueFailed(p) = %d, %v; want 1", n, err)
	}
	r = claim(t, db, later, 10)
	if len(r) != 1 || r[0].Attempts != 1 || !r[0].QueuedAt.Equal(later) {
		t.Errorf("claim after RequeueFailed = %+v, want a fresh attempt count and window", r)
	}
}

func testUnsubscribeDropsWaitingDeliveries(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	setupDeliveries(t, db, 3)
	s, err := db.Subscriber(ctx, "s001@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SetSubscriberStatus(ctx, t0.Add(time.Minute), s.ID, store.StatusUnsubscribed); err != nil {
		t.Fatal(err)
	}
	got := emails(claim(t, db, t0.Add(time.Minute), 10))
	if want := []string{"s000@example.com", "s002@example.com"}; !slices.Equal(got, want) {
		t.Errorf("after unsubscribe, claimed %v, want %v", got, want)
	}
}

// Two workers (or processes) claiming at once never get the same delivery.
func testClaimConcurrent(t *testing.T, bk Backend) {
	path := bk.New(t)
	db := bk.Open(t, path)
	const n = 300
	setupDeliveries(t, db, n)
	other := bk.Open(t, path)

	var (
		mu   sync.Mutex
		seen = map[int64]int{}
		wg   sync.WaitGroup
	)
	for i, h := range []store.Store{db, other, db, other} {
		wg.Add(1)
		lease := store.Lease{Owner: fmt.Sprintf("test-host:%d:w", i), For: time.Minute}
		go func() {
			defer wg.Done()
			for {
				list, err := h.ClaimDeliveries(context.Background(), t0.Add(time.Minute), lease, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(list) == 0 {
					return
				}
				mu.Lock()
				for _, d := range list {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("claimed %d distinct deliveries, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("delivery %d claimed %d times", id, c)
		}
	}
}

func testRecordOutcomes(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	setupDeliveries(t, db, 4)
	now := t0.Add(time.Minute)
	ds := claim(t, db, now, 3)
	next := now.Add(time.Hour)
	n, err := db.RecordOutcomes(ctx, now, worker.Owner, []store.Outcome{
		{ID: ds[0].ID, State: store.DeliverySent},
		{ID: ds[1].ID, State: store.DeliveryRetry, Next: next, Code: 451, Text: "later"},
		{ID: ds[2].ID, State: store.DeliveryFailed, Code: 550, Text: "no"},
		{ID: ds[0].ID, State: store.DeliverySent}, // not in flight any more: ignored
	})
	if err != nil || n != 3 {
		t.Fatalf("RecordOutcomes = %d, %v; want 3", n, err)
	}
	if c := countDeliveries(t, db); c != (store.DeliveryCounts{Pending: 1, Sent: 1, Retry: 1, Failed: 1}) {
		t.Errorf("counts = %+v", c)
	}
	if got, _ := db.NextRetry(ctx); !got.Equal(t0) {
		t.Errorf("NextRetry = %v, want the pending row's %v", got, t0)
	}
	f, _ := db.FailedDeliveries(ctx, 5)
	if len(f) != 1 || f[0].Code != 550 || f[0].Error != "no" {
		t.Errorf("failed = %+v", f)
	}
	// A bad state refuses the whole group.
	rest := claim(t, db, now, 5)
	if _, err := db.RecordOutcomes(ctx, now, worker.Owner, []store.Outcome{{ID: rest[0].ID, State: store.DeliverySent}, {ID: 1, State: "sending"}}); err == nil {
		t.Errorf("RecordOutcomes with a bad state: no error")
	}
	if c := countDeliveries(t, db); c.Sending != 1 || c.Sent != 1 {
		t.Errorf("after a refused group: %+v, want nothing recorded", c)
	}
	if n, err := db.RecordOutcomes(ctx, now, worker.Owner, nil); n != 0 || err != nil {
		t.Errorf("RecordOutcomes(nil) = %d, %v", n, err)
	}
	// The same through a Ledger.
	l, err := db.Ledger(ctx, worker.Owner)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if n, err := l.RecordOutcomes(ctx, now, []store.Outcome{{ID: rest[0].ID, State: store.DeliverySent}}); n != 1 || err != nil {
		t.Errorf("Ledger.RecordOutcomes = %d, %v; want 1", n, err)
	}
	if c := countDeliveries(t, db); c.Sending != 0 || c.Sent != 2 {
		t.Errorf("after Ledger.RecordOutcomes: %+v", c)
	}
}

// Leases: a live owner's rows are never taken over, recorded or released
// by another worker; an expired lease is taken over once, and the old
// owner's late outcome is then ignored.
func testLeases(t *testing.T, bk Backend) {
	ctx := context.Background()
	path := bk.New(t)
	db := bk.Open(t, path)
	other := bk.Open(t, path) // another process
	setupDeliveries(t, db, 5)
	a := store.Lease{Owner: "host-a:10:aaaa", For: 2 * time.Minute}
	b := store.Lease{Owner: "host-b:20:bbbb", For: 2 * time.Minute}
	now := t0.Add(time.Minute)

	for _, bad := range []store.Lease{{Owner: "", For: time.Minute}, {Owner: "x", For: 0}, {Owner: "x", For: time.Millisecond}} {
		if _, err := db.ClaimDeliveries(ctx, now, bad, 1); err == nil {
			t.Errorf("ClaimDeliveries with lease %+v: no error", bad)
		}
		if _, err := db.RenewLeases(ctx, now, bad); err == nil {
			t.Errorf("RenewLeases with lease %+v: no error", bad)
		}
	}
	if _, err := db.Ledger(ctx, ""); err == nil {
		t.Errorf("Ledger without owner: no error")
	}

	held := claimAs(t, db, now, a, 3)
	if len(held) != 3 {
		t.Fatalf("A claimed %d, want 3", len(held))
	}
	ids := []int64{held[0].ID, held[1].ID, held[2].ID}
	// B sees A's rows as taken: it claims the other two only.
	if got := claimAs(t, other, now, b, 10); len(got) != 2 {
		t.Fatalf("B claimed %d beside A's live claim, want the 2 unclaimed", len(got))
	} else {
		recordAs(t, other, now, b.Owner, 2,
			store.Outcome{ID: got[0].ID, State: store.DeliverySent}, store.Outcome{ID: got[1].ID, State: store.DeliverySent})
	}
	// B can neither record nor release A's rows.
	recordAs(t, other, now, b.Owner, 0, store.Outcome{ID: ids[0], State: store.DeliveryFailed, Code: 550, Text: "x"})
	if n, err := other.ReleaseDeliveries(ctx, now, b.Owner, ids); err != nil || n != 0 {
		t.Errorf("B released A's rows: %d, %v", n, err)
	}
	// A renews 90 s later: the lease now ends at now+90s+2m.
	renewAt := now.Add(90 * time.Second)
	if n, err := db.RenewLeases(ctx, renewAt, a); err != nil || n != 3 {
		t.Errorf("RenewLeases(A) = %d, %v; want 3", n, err)
	}
	if n, err := db.RenewLeases(ctx, renewAt, b); err != nil || n != 0 {
		t.Errorf("RenewLeases(B) = %d, %v; want 0 (B holds nothing)", n, err)
	}
	if got, err := other.RequeueExpired(ctx, now.Add(a.For)); err != nil || len(got) != 0 {
		t.Errorf("RequeueExpired when the first lease would have ended = %+v, %v; want none (renewed)", got, err)
	}
	if c := countDeliveries(t, db); c.Sending != 3 {
		t.Errorf("counts = %+v, want A's 3 still sending", c)
	}
	// A's lease runs out: B takes the rows over, once.
	end := renewAt.Add(a.For)
	got, err := other.RequeueExpired(ctx, end)
	if err != nil || len(got) != 3 {
		t.Fatalf("RequeueExpired at the lease's end = %+v, %v; want A's 3", got, err)
	}
	for i, e := range got {
		if e.ID != ids[i] || e.Owner != a.Owner {
			t.Errorf("expired[%d] = %+v, want delivery %d of %s", i, e, ids[i], a.Owner)
		}
	}
	if again, err := db.RequeueExpired(ctx, end); err != nil || len(again) != 0 {
		t.Errorf("second RequeueExpired = %+v, %v; want none", again, err)
	}
	taken := claimAs(t, other, end, b, 10)
	if len(taken) != 3 || taken[0].Attempts != 2 {
		t.Fatalf("B's claim after the take-over = %+v, want A's 3 with their attempt counted", taken)
	}
	// A wakes up: it holds nothing any more; its outcome is ignored.
	if n, err := db.RenewLeases(ctx, end, a); err != nil || n != 0 {
		t.Errorf("RenewLeases(A) after the take-over = %d, %v; want 0", n, err)
	}
	recordAs(t, db, end, a.Owner, 0, store.Outcome{ID: ids[0], State: store.DeliveryRetry, Next: end.Add(time.Hour), Code: 451, Text: "late"})
	l, err := db.Ledger(ctx, a.Owner)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if n, err := l.RecordOutcomes(ctx, end, []store.Outcome{{ID: ids[1], State: store.DeliverySent}}); n != 0 || err != nil {
		t.Errorf("A's Ledger recorded %d, %v for B's row; want 0", n, err)
	}
	recordAs(t, other, end, b.Owner, 3,
		store.Outcome{ID: ids[0], State: store.DeliverySent}, store.Outcome{ID: ids[1], State: store.DeliverySent},
		store.Outcome{ID: ids[2], State: store.DeliverySent})
	if c := countDeliveries(t, db); c != (store.DeliveryCounts{Sent: 5}) {
		t.Errorf("counts = %+v, want 5 sent", c)
	}
	// A recorded row carries no lease: nothing to take over later.
	if got, err := db.RequeueExpired(ctx, end.Add(time.Hour)); err != nil || len(got) != 0 {
		t.Errorf("RequeueExpired after everything was sent = %+v, %v", got, err)
	}
}

// Attempts: the ledger keeps the reply of every failed attempt (not only
// the last), newest first; a sent outcome, or an outcome of a row no longer
// the owner's, adds none; forgetting the subscriber blanks the replies.
func testAttempts(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.Open(t, bk.New(t))
	setupDeliveries(t, db, 2)
	a := store.Lease{Owner: "host-a:10:aaaa", For: 2 * time.Minute}
	now := t0.Add(time.Minute)
	held := claimAs(t, db, now, a, 2)
	if len(held) != 2 {
		t.Fatalf("claimed %d, want 2", len(held))
	}
	d, other := held[0], held[1]
	recordAs(t, db, now, a.Owner, 2,
		store.Outcome{ID: d.ID, State: store.DeliveryRetry, Next: now.Add(time.Minute), Code: 451, Text: "4.2.0 try later"},
		store.Outcome{ID: other.ID, State: store.DeliverySent})
	// A late outcome for a row no longer claimed adds nothing.
	recordAs(t, db, now, a.Owner, 0, store.Outcome{ID: d.ID, State: store.DeliveryFailed, Code: 554, Text: "late"})
	later := now.Add(2 * time.Minute)
	if again := claimAs(t, db, later, a, 2); len(again) != 1 || again[0].ID != d.ID {
		t.Fatalf("second claim = %+v, want delivery %d", again, d.ID)
	}
	recordAs(t, db, later, a.Owner, 1, store.Outcome{ID: d.ID, State: store.DeliveryFailed, Code: 550, Text: "5.1.1 no such user"})

	got, err := db.AttemptsFor(ctx, d.SubscriberID, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Attempt{
		{DeliveryID: d.ID, MailingID: d.MailingID, Attempt: 2, At: later, Code: 550, Text: "5.1.1 no such user"},
		{DeliveryID: d.ID, MailingID: d.MailingID, Attempt: 1, At: now, Code: 451, Text: "4.2.0 try later"},
	}
	if len(got) != len(want) {
		t.Fatalf("AttemptsFor = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("attempt %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if one, err := db.AttemptsFor(ctx, d.SubscriberID, 1); err != nil || len(one) != 1 || one[0].Code != 550 {
		t.Errorf("AttemptsFor(limit 1) = %+v, %v; want the newest", one, err)
	}
	if none, err := db.AttemptsFor(ctx, other.SubscriberID, 0); err != nil || len(none) != 0 {
		t.Errorf("AttemptsFor(a sent delivery's subscriber) = %+v, %v; want none", none, err)
	}
	s, err := db.SubscriberByID(ctx, d.SubscriberID)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ForgetSubscriber(ctx, later, s.Email); err != nil {
		t.Fatal(err)
	}
	got, err = db.AttemptsFor(ctx, d.SubscriberID, 0)
	if err != nil || len(got) != 2 {
		t.Fatalf("AttemptsFor after forget = %+v, %v; want the 2 attempts kept", got, err)
	}
	for _, a := range got {
		if a.Text != "" {
			t.Errorf("after forget, attempt %d keeps its reply %q", a.Attempt, a.Text)
		}
	}
}
