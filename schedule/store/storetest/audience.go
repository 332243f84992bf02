package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"herald/schedule/store"
)

// testPostCandidates: every subscriber that is not forgotten, by id, with
// their suppression and exactly their deliveries of the post (states,
// leases), across more than one batch.
func testPostCandidates(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	sent := addSub(t, db, t0.Add(-time.Hour), "sent@example.com", store.StatusConfirmed)
	failed := addSub(t, db, t0.Add(-time.Hour), "failed@example.com", store.StatusConfirmed)
	inFlight := addSub(t, db, t0.Add(-time.Hour), "inflight@example.com", store.StatusConfirmed)
	bounced := addSub(t, db, t0.Add(-time.Hour), "bounced@example.com", store.StatusConfirmed)
	forgotten := addSub(t, db, t0.Add(-time.Hour), "forgotten@example.com", store.StatusConfirmed)
	announce(t, db, t0, "p", "other")
	ids := createMailings(t, db, t0, false)
	expand(t, db, t0, ids[0], 5)
	expand(t, db, t0, ids[1], 5)
	late := addSub(t, db, t0.Add(time.Minute), "late@example.com", store.StatusConfirmed)
	// Many more subscribers than one batch reads (500).
	for i := range 600 {
		addSub(t, db, t0.Add(2*time.Minute), fmt.Sprintf("bulk%03d@example.com", i), store.StatusConfirmed)
	}
	now := t0.Add(3 * time.Minute)
	lease := store.Lease{Owner: "h:1:x", For: time.Minute}
	ds := claimAs(t, db, now, lease, 5) // post p's mailing comes first
	byEmail := map[string]store.Delivery{}
	for _, d := range ds {
		if d.MailingID == ids[0] {
			byEmail[d.Email] = d
		}
	}
	if len(byEmail) != 5 {
		t.Fatalf("claimed %d deliveries of post p, want 5", len(byEmail))
	}
	recordAs(t, db, now, lease.Owner, 3,
		store.Outcome{ID: byEmail[sent.Email].ID, State: store.DeliverySent},
		store.Outcome{ID: byEmail[failed.Email].ID, State: store.DeliveryFailed, Code: 550, Text: "no"},
		store.Outcome{ID: byEmail[bounced.Email].ID, State: store.DeliveryRetry, Next: now.Add(time.Hour), Code: 450, Text: "later"})
	if err := db.ForgetSubscriber(ctx, now, forgotten.Email); err != nil {
		t.Fatal(err)
	}
	recordBounce(t, db, now, store.NewBounce{Email: bounced.Email, SubscriberID: bounced.ID, Type: store.BounceHard, Status: "5.1.1"})

	got := map[int64]store.Candidate{}
	var order []int64
	err := db.PostCandidates(ctx, "p", func(c store.Candidate) error {
		order = append(order, c.ID)
		got[c.ID] = c
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(order) != 605 {
		t.Errorf("PostCandidates called fn %d times, want 605 (every subscriber but the forgotten one)", len(order))
	}
	for i := 1; i < len(order); i++ {
		if order[i] <= order[i-1] {
			t.Fatalf("candidates out of id order at %d: %v", i, order[i-1:i+1])
		}
	}
	if _, ok := got[forgotten.ID]; ok {
		t.Errorf("a forgotten subscriber is a candidate")
	}
	one := func(s store.Subscriber) store.PostDelivery {
		t.Helper()
		c := got[s.ID]
		if len(c.Deliveries) != 1 {
			t.Fatalf("%s: deliveries %+v, want one of post p", s.Email, c.Deliveries)
		}
		if c.Deliveries[0].MailingID != ids[0] {
			t.Errorf("%s: delivery of mailing %d, want %d (post p's)", s.Email, c.Deliveries[0].MailingID, ids[0])
		}
		return c.Deliveries[0]
	}
	if d := one(sent); d.State != store.DeliverySent {
		t.Errorf("sent@: %+v", d)
	}
	if d := one(failed); d.State != store.DeliveryFailed || d.Attempts != 1 {
		t.Errorf("failed@: %+v", d)
	}
	if d := one(inFlight); d.State != store.DeliverySending || d.ClaimedBy != lease.Owner || !d.LeaseUntil.Equal(now.Add(time.Minute)) {
		t.Errorf("inflight@: %+v, want sending by %s until %v", d, lease.Owner, now.Add(time.Minute))
	}
	if c := got[bounced.ID]; c.SuppressedAt.IsZero() || len(c.Deliveries) != 0 {
		t.Errorf("bounced@: %+v, want suppressed, its waiting delivery dropped", c)
	}
	if c := got[late.ID]; len(c.Deliveries) != 0 || !c.ConfirmedAt.Equal(t0.Add(time.Minute)) || c.Status != store.StatusConfirmed || c.Email != late.Email {
		t.Errorf("late@: %+v", c)
	}
	if err := db.PostCandidates(ctx, "never-announced", func(c store.Candidate) error {
		if len(c.Deliveries) != 0 {
			t.Errorf("%s has deliveries of a post never announced: %+v", c.Email, c.Deliveries)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stop := fmt.Errorf("stop")
	if err := db.PostCandidates(ctx, "p", func(store.Candidate) error { return stop }); err != stop {
		t.Errorf("fn's error = %v, want it returned as is", err)
	}
}
