package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"herald/schedule/store"
)

var policy = store.BouncePolicy{SoftLimit: 3, SoftWindow: 30 * 24 * time.Hour}

// bounceStore is a backend (store.Store includes store.BounceStore).
type bounceStore = store.Store

// bounces opens a new database.
func bounces(t *testing.T, bk Backend) bounceStore {
	t.Helper()
	return bk.fresh(t)
}

func recordBounce(t *testing.T, db bounceStore, now time.Time, nb store.NewBounce) store.BounceEvent {
	t.Helper()
	if nb.Source == "" {
		nb.Source = "dsn"
	}
	ev, err := db.RecordBounce(context.Background(), now, nb, policy)
	if err != nil {
		t.Fatalf("RecordBounce(%+v): %v", nb, err)
	}
	return ev
}

func suppression(t *testing.T, db bounceStore, id int64) store.Suppression {
	t.Helper()
	s, err := db.SuppressionOf(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sendPost announces post id at now, expands its mailing and marks every
// delivery sent; it returns the mailing.
func sendPost(t *testing.T, db bounceStore, now time.Time, id string) int64 {
	t.Helper()
	ctx := context.Background()
	if _, _, err := db.Announce(ctx, now, mailPost(id, now.Add(-time.Minute))); err != nil {
		t.Fatal(err)
	}
	ids, err := db.CreateManualMailings(ctx, now)
	if err != nil || len(ids) != 1 {
		t.Fatalf("CreateManualMailings: %v, %v", ids, err)
	}
	if _, err := db.ExpandMailing(ctx, now, ids[0]); err != nil {
		t.Fatal(err)
	}
	for _, d := range claim(t, db, now, 100) {
		if n, err := db.RecordOutcomes(ctx, now, worker.Owner, []store.Outcome{{ID: d.ID, State: store.DeliverySent}}); err != nil || n != 1 {
			t.Fatal(n, err)
		}
	}
	return ids[0]
}

func testHardBounceSuppresses(t *testing.T, bk Backend) {
	db := bounces(t, bk)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	ann := addSub(t, db, t0, "ann@example.com", store.StatusConfirmed)
	bob := addSub(t, db, t0, "bob@example.com", store.StatusConfirmed)
	m1 := sendPost(t, db, t0.Add(time.Hour), "p1")

	ev := recordBounce(t, db, t0.Add(2*time.Hour), store.NewBounce{SubscriberID: ann.ID, MailingID: m1, Email: "whatever@x.test",
		Type: store.BounceHard, Status: "5.1.1", Diagnostic: "550 5.1.1 user unknown", Raw: []byte("raw dsn")})
	if ev.Outcome != store.OutcomeSuppressed || ev.Email != "ann@example.com" || ev.ID == 0 {
		t.Fatalf("event = %+v", ev)
	}
	if s := suppression(t, db, ann.ID); s.SuppressedAt.IsZero() || s.Reason != store.SuppressHard {
		t.Fatalf("suppression = %+v", s)
	}
	// A second hard bounce changes nothing more.
	if ev := recordBounce(t, db, t0.Add(3*time.Hour), store.NewBounce{SubscriberID: ann.ID, Type: store.BounceHard}); ev.Outcome != store.OutcomeRecorded {
		t.Fatalf("second hard bounce outcome %q", ev.Outcome)
	}
	// The next post skips ann: only bob gets a delivery.
	announce(t, db, t0.Add(4*time.Hour), "p2")
	ids := createMailings(t, db, t0.Add(4*time.Hour), false)
	expand(t, db, t0.Add(4*time.Hour), ids[0], 1)
	if got := emails(claim(t, db, t0.Add(4*time.Hour), 10)); len(got) != 1 || got[0] != bob.Email {
		t.Fatalf("deliveries after suppression: %v", got)
	}

	// The history, with the raw message.
	evs, err := db.BouncesFor(ctx, "ann@EXAMPLE.com")
	if err != nil || len(evs) != 2 || string(evs[1].Raw) != "raw dsn" || evs[1].Diagnostic != "550 5.1.1 user unknown" {
		t.Fatalf("BouncesFor = %+v, %v", evs, err)
	}
	if n, err := db.PruneBounceRaw(ctx, t0.Add(150*time.Minute)); err != nil || n != 1 {
		t.Fatalf("PruneBounceRaw = %d, %v", n, err)
	}
	if evs, _ := db.BouncesFor(ctx, "ann@example.com"); evs[1].Raw != nil || evs[1].Status != "5.1.1" {
		t.Fatalf("after prune: %+v", evs[1])
	}

	// Unsuppress: mail again.
	if ok, err := db.Unsuppress(ctx, "ann@example.com"); !ok || err != nil {
		t.Fatalf("Unsuppress = %v, %v", ok, err)
	}
	if ok, _ := db.Unsuppress(ctx, "ann@example.com"); ok {
		t.Fatal("second Unsuppress changed something")
	}
	if _, err := db.Unsuppress(ctx, "nobody@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Unsuppress(unknown) = %v", err)
	}
	if s := suppression(t, db, ann.ID); !s.SuppressedAt.IsZero() || s.Reason != "" {
		t.Fatalf("after unsuppress: %+v", s)
	}
}

func testHardBounceDropsQueuedDeliveries(t *testing.T, bk Backend) {
	db := bounces(t, bk)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	ann := addSub(t, db, t0, "ann@example.com", store.StatusConfirmed)
	announce(t, db, t0.Add(time.Hour), "p1")
	ids := createMailings(t, db, t0.Add(time.Hour), false)
	expand(t, db, t0.Add(time.Hour), ids[0], 1)
	recordBounce(t, db, t0.Add(2*time.Hour), store.NewBounce{SubscriberID: ann.ID, Type: store.BounceHard})
	if got := claim(t, db, t0.Add(3*time.Hour), 10); len(got) != 0 {
		t.Fatalf("a suppressed subscriber's queued delivery was still claimed: %v", emails(got))
	}
}

func testSoftBounces(t *testing.T, bk Backend) {
	db := bounces(t, bk)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	ann := addSub(t, db, t0, "ann@example.com", store.StatusConfirmed)
	soft := func(at time.Time, mailing int64) string {
		return recordBounce(t, db, at, store.NewBounce{SubscriberID: ann.ID, MailingID: mailing, Type: store.BounceSoft, Status: "4.2.2"}).Outcome
	}
	m1 := sendPost(t, db, t0.Add(1*time.Hour), "p1")
	m2 := sendPost(t, db, t0.Add(2*time.Hour), "p2")
	if got := soft(t0.Add(3*time.Hour), m1); got != store.OutcomeCounted {
		t.Fatalf("first soft: %s", got)
	}
	// Two DSNs for one mailing count once.
	if got := soft(t0.Add(3*time.Hour+time.Minute), m1); got != store.OutcomeCounted {
		t.Fatalf("repeat soft: %s", got)
	}
	if got := soft(t0.Add(4*time.Hour), m2); got != store.OutcomeCounted {
		t.Fatalf("second soft: %s", got)
	}
	// p3 reaches ann and does not bounce: a success resets the count.
	sendPost(t, db, t0.Add(5*time.Hour), "p3")
	m4 := sendPost(t, db, t0.Add(6*time.Hour), "p4")
	if got := soft(t0.Add(7*time.Hour), m4); got != store.OutcomeCounted {
		t.Fatalf("soft after a success: %s (the success should have reset the count)", got)
	}
	m5 := sendPost(t, db, t0.Add(8*time.Hour), "p5")
	m6 := sendPost(t, db, t0.Add(9*time.Hour), "p6")
	if got := soft(t0.Add(10*time.Hour), m5); got != store.OutcomeCounted {
		t.Fatalf("soft 2 after reset: %s", got)
	}
	if !suppression(t, db, ann.ID).SuppressedAt.IsZero() {
		t.Fatal("suppressed early")
	}
	if got := soft(t0.Add(11*time.Hour), m6); got != store.OutcomeSuppressed {
		t.Fatalf("third soft bounce in a row: %s, want suppressed", got)
	}
	if s := suppression(t, db, ann.ID); s.Reason != store.SuppressSoft {
		t.Fatalf("suppression = %+v", s)
	}
}

func testSoftBounceWindow(t *testing.T, bk Backend) {
	db := bounces(t, bk)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	bob := addSub(t, db, t0, "bob@example.com", store.StatusConfirmed)
	day := 24 * time.Hour
	for i, at := range []time.Time{t0, t0.Add(20 * day), t0.Add(40 * day)} {
		ev := recordBounce(t, db, at, store.NewBounce{SubscriberID: bob.ID, Type: store.BounceSoft})
		if ev.Outcome != store.OutcomeCounted {
			t.Fatalf("soft %d (the first is out of the 30-day window at the third): %s", i, ev.Outcome)
		}
	}
	if ev := recordBounce(t, db, t0.Add(45*day), store.NewBounce{SubscriberID: bob.ID, Type: store.BounceSoft}); ev.Outcome != store.OutcomeSuppressed {
		t.Fatalf("third within the window: %s", ev.Outcome)
	}
}

func testComplaint(t *testing.T, bk Backend) {
	db := bounces(t, bk)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	cat := addSub(t, db, t0, "cat@example.com", store.StatusConfirmed)
	ev := recordBounce(t, db, t0.Add(time.Hour), store.NewBounce{SubscriberID: cat.ID, Type: store.BounceComplaint, Source: "arf"})
	if ev.Outcome != store.OutcomeUnsubscribed {
		t.Fatalf("outcome %s", ev.Outcome)
	}
	s, err := db.Subscriber(ctx, "cat@example.com")
	if err != nil || s.Status != store.StatusUnsubscribed || !s.UnsubscribedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after complaint: %+v, %v", s, err)
	}
	if sp := suppression(t, db, cat.ID); sp.ComplainedAt.IsZero() {
		t.Fatal("complaint not marked")
	}
	// `subscribers add` and `import` never re-subscribe.
	if _, created, err := db.AddSubscriber(ctx, t0.Add(2*time.Hour), "cat@example.com", "", store.StatusConfirmed, store.SourceCLI); err != nil || created {
		t.Fatalf("AddSubscriber: created %v, %v", created, err)
	}
	if _, err := db.AddSubscribers(ctx, t0.Add(2*time.Hour), []store.NewSubscriber{{Email: "cat@example.com", Status: store.StatusConfirmed, Source: store.SourceImport}}); err != nil {
		t.Fatal(err)
	}
	if s, _ := db.Subscriber(ctx, "cat@example.com"); s.Status != store.StatusUnsubscribed {
		t.Fatalf("re-subscribed by add/import: %+v", s)
	}
	// A second complaint is recorded only.
	if ev := recordBounce(t, db, t0.Add(3*time.Hour), store.NewBounce{SubscriberID: cat.ID, Type: store.BounceComplaint, Source: "ses"}); ev.Outcome != store.OutcomeRecorded {
		t.Fatalf("second complaint: %s", ev.Outcome)
	}
}

func testBounceNoChange(t *testing.T, bk Backend) {
	db := bounces(t, bk)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	dan := addSub(t, db, t0, "dan@example.com", store.StatusConfirmed)
	for _, nb := range []store.NewBounce{
		{SubscriberID: dan.ID, Type: store.BounceAutoReply, Source: "autoreply", Diagnostic: "Out of office"},
		{SubscriberID: dan.ID, Type: store.BounceOther, Action: "delayed", Status: "4.4.1"},
	} {
		if ev := recordBounce(t, db, t0.Add(time.Hour), nb); ev.Outcome != store.OutcomeRecorded {
			t.Fatalf("%s: outcome %s", nb.Type, ev.Outcome)
		}
	}
	// Unmatched: a subscriber id that does not exist, or none.
	for _, nb := range []store.NewBounce{{SubscriberID: 999, Type: store.BounceHard, Email: "x@example.com"}, {Type: store.BounceComplaint, Email: "dan@example.com"}} {
		if ev := recordBounce(t, db, t0.Add(time.Hour), nb); ev.Outcome != store.OutcomeUnmatched || ev.SubscriberID != 0 {
			t.Fatalf("unmatched: %+v", ev)
		}
	}
	if s, _ := db.Subscriber(ctx, "dan@example.com"); s.Status != store.StatusConfirmed || !suppression(t, db, dan.ID).SuppressedAt.IsZero() {
		t.Fatalf("changed: %+v", s)
	}
	list, err := db.Bounces(ctx, t0, 0)
	if err != nil || len(list) != 4 {
		t.Fatalf("Bounces = %d, %v", len(list), err)
	}
	if list, _ := db.Bounces(ctx, t0.Add(2*time.Hour), 0); len(list) != 0 {
		t.Fatalf("Bounces since later = %d", len(list))
	}
	if _, err := db.RecordBounce(ctx, t0, store.NewBounce{Type: "bogus", Source: "dsn"}, policy); err == nil {
		t.Fatal("bad type accepted")
	}
}

// Confirming again (a new web subscription) clears a suppression.
func testConfirmClearsSuppression(t *testing.T, bk Backend) {
	db := bounces(t, bk)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	eve := addSub(t, db, t0, "eve@example.com", store.StatusConfirmed)
	recordBounce(t, db, t0.Add(time.Hour), store.NewBounce{SubscriberID: eve.ID, Type: store.BounceHard})
	changed, err := db.SetSubscriberStatus(ctx, t0.Add(2*time.Hour), eve.ID, store.StatusConfirmed)
	if err != nil || !changed {
		t.Fatalf("SetSubscriberStatus(confirmed) = %v, %v; want a change (suppression cleared)", changed, err)
	}
	if s := suppression(t, db, eve.ID); !s.SuppressedAt.IsZero() {
		t.Fatalf("still suppressed: %+v", s)
	}
	if changed, _ := db.SetSubscriberStatus(ctx, t0.Add(3*time.Hour), eve.ID, store.StatusConfirmed); changed {
		t.Fatal("confirming a confirmed, unsuppressed subscriber changed something")
	}
}

func testBounceRates(t *testing.T, bk Backend) {
	db := bounces(t, bk)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	var subs []store.Subscriber
	for _, e := range []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com"} {
		subs = append(subs, addSub(t, db, t0, e, store.StatusConfirmed))
	}
	m1 := sendPost(t, db, t0.Add(time.Hour), "p1")
	recordBounce(t, db, t0.Add(2*time.Hour), store.NewBounce{SubscriberID: subs[0].ID, MailingID: m1, Type: store.BounceHard})
	recordBounce(t, db, t0.Add(2*time.Hour), store.NewBounce{SubscriberID: subs[1].ID, MailingID: m1, Type: store.BounceComplaint})
	recordBounce(t, db, t0.Add(2*time.Hour), store.NewBounce{SubscriberID: subs[2].ID, Type: store.BounceSoft}) // no mailing
	recordBounce(t, db, t0.Add(2*time.Hour), store.NewBounce{Type: store.BounceHard, Email: "x@example.com"})   // unmatched
	period, per, err := db.BounceRates(ctx, t0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if period.Sent != 4 || period.Hard != 1 || period.Soft != 1 || period.Complaints != 1 {
		t.Fatalf("period = %+v", period)
	}
	if len(per) != 1 || per[0].MailingID != m1 || per[0].Sent != 4 || per[0].Hard != 1 || per[0].Soft != 0 || per[0].Complaints != 1 {
		t.Fatalf("per mailing = %+v", per)
	}
	if r := per[0].HardRate(); r != 0.25 {
		t.Fatalf("hard rate %v", r)
	}
	if period, _, _ := db.BounceRates(ctx, t0.Add(3*time.Hour), 10); period.Sent != 0 || period.Hard != 0 {
		t.Fatalf("later period = %+v", period)
	}
}
