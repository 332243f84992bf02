package storetest

import (
	"context"
	"herald/schedule/store"
	"testing"
	"time"
)

// Heartbeats: live daemons are listed with what they hold; a stale or
// departed one is not.
func testMembers(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	a := store.Member{ID: "alpha:100:aa", Host: "alpha", PID: 100, Version: "v1", StartedAt: t0}
	b := store.Member{ID: "beta:200:bb", Host: "beta", PID: 200, Version: "v2", StartedAt: t0.Add(time.Second)}
	for _, m := range []store.Member{a, b} {
		if err := db.Beat(ctx, t0.Add(time.Minute), m); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Beat(ctx, t0.Add(2*time.Minute), a); err != nil { // a again: one row, seen later
		t.Fatal(err)
	}
	list, err := db.Members(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
		t.Fatalf("Members = %+v, want alpha then beta", list)
	}
	if got := list[0]; got.Host != "alpha" || got.PID != 100 || got.Version != "v1" ||
		!got.StartedAt.Equal(t0) || !got.SeenAt.Equal(t0.Add(2*time.Minute)) || got.Held != 0 {
		t.Errorf("alpha = %+v", got)
	}
	// Only beats at or after since count: beta's last one is older.
	if list, _ := db.Members(ctx, t0.Add(90*time.Second)); len(list) != 1 || list[0].ID != a.ID {
		t.Errorf("Members(since) = %+v, want alpha alone", list)
	}
	if err := db.Leave(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := db.Members(ctx, t0); len(list) != 1 || list[0].ID != b.ID {
		t.Errorf("after Leave: %+v, want beta alone", list)
	}
}
