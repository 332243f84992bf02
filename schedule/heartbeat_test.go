package schedule

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"herald/schedule/store"
	"herald/schedule/store/sqlite"
)

// The heartbeat records the daemon at once and at every interval, reports
// how many daemons are live, and removes the daemon's row when it stops.
func TestHeartbeat(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clock := newFakeClock(t0)
	counts := make(chan int, 10)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	me := store.Member{ID: "here:1:x", Host: "here", PID: 1, Version: "test"}
	go func() {
		done <- RunHeartbeat(runCtx, HeartbeatOptions{
			Store: db, Member: me, Clock: clock,
			OnMembers: func(n int) { counts <- n },
		})
	}()
	if n := <-counts; n != 1 {
		t.Errorf("first beat: %d live, want 1", n)
	}
	// Another daemon beats; a dead one's last beat is too old to count.
	if err := db.Beat(ctx, t0, store.Member{ID: "there:2:y", Host: "there", PID: 2, StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := db.Beat(ctx, t0.Add(-time.Hour), store.Member{ID: "dead:3:z", Host: "dead", PID: 3, StartedAt: t0.Add(-2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(HeartbeatInterval)
	if n := <-counts; n != 2 {
		t.Errorf("second beat: %d live, want 2", n)
	}
	list, err := db.Members(ctx, t0)
	if err != nil || len(list) != 2 || list[0].ID != me.ID || !list[0].SeenAt.Equal(t0.Add(HeartbeatInterval)) {
		t.Errorf("Members = %+v, %v; want here:1 (seen at the second beat) and there:2, same start, by id", list, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunHeartbeat = %v", err)
	}
	if list, _ := db.Members(ctx, t0); len(list) != 1 || list[0].ID != "there:2:y" {
		t.Errorf("after stop: %+v, want only there:2 (this daemon left)", list)
	}
}
