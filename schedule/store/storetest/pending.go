package storetest

import (
	"context"
	"errors"
	"herald/schedule/store"
	"testing"
	"time"
)

func testDeletePendingAndIDsNeverReused(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(email string, st store.SubscriberStatus, at time.Time) store.Subscriber {
		t.Helper()
		s, created, err := db.AddSubscriber(ctx, at, email, "", st, store.SourceWeb)
		if err != nil || !created {
			t.Fatalf("add %s: %v (created %v)", email, err, created)
		}
		return s
	}
	old := add("old@example.org", store.StatusPending, t0)
	add("fresh@example.org", store.StatusPending, t0.Add(6*24*time.Hour))
	add("kept@example.org", store.StatusConfirmed, t0)

	n, err := db.DeletePending(ctx, t0.Add(24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("DeletePending = %d, %v; want 1", n, err)
	}
	if _, err := db.Subscriber(ctx, "old@example.org"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old pending subscriber still there: %v", err)
	}
	for _, email := range []string{"fresh@example.org", "kept@example.org"} {
		if _, err := db.Subscriber(ctx, email); err != nil {
			t.Errorf("%s: %v", email, err)
		}
	}
	// The highest id was deleted: a new subscriber must not get it back,
	// or an old unsubscribe token would name them.
	last := add("last@example.org", store.StatusPending, t0)
	if n, err := db.DeletePending(ctx, t0.Add(24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("DeletePending = %d, %v; want 1 (last@)", n, err)
	}
	next := add("next@example.org", store.StatusPending, t0)
	if next.ID == last.ID || next.ID == old.ID {
		t.Errorf("id %d reused (old %d, last %d)", next.ID, old.ID, last.ID)
	}
}
