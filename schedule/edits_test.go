package schedule

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"herald/feed"
)

// snapshots records the posts whose newsletter snapshot was taken.
type snapshots struct {
	mu    sync.Mutex
	paths []string
}

func (s *snapshots) MailSnapshot(ctx context.Context, p *feed.Post) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paths = append(s.paths, p.Path)
	return []byte("snapshot of " + p.Path), nil
}

func (s *snapshots) taken() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.paths)
	slices.Sort(out)
	return out
}

// TestSnapshotTakenOnlyForMail: the newsletter's snapshot is taken for
// each post announced for mail, once, and stored with its announcement;
// the archive found by the first run (recorded without mail) renders
// none, also when the first run saw an empty folder; with mail.backfill
// the archive is mailed and gets its snapshots.
func TestSnapshotTakenOnlyForMail(t *testing.T) {
	for _, emptyFirst := range []bool{false, true} {
		e := newEnv(t, "UTC")
		e.snap = &snapshots{}
		d, _ := e.daemon()
		if emptyFirst {
			if _, err := d.Scan(context.Background()); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Hour)
		}
		e.writePost("2024-01-01-old-a.md", "Old A", "2024-01-01 10:00:00")
		e.writePost("2024-02-01-old-b.md", "Old B", "2024-02-01 10:00:00")
		if emptyFirst {
			// Dated after the empty first run: mailed, with its snapshot.
			e.writePost("2024-06-01-after.md", "After", "2024-06-01 12:30:00")
		}
		if _, err := d.Scan(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := []string(nil)
		if emptyFirst {
			want = []string{"2024-06-01-after.md"}
		}
		if got := e.snap.(*snapshots).taken(); !slices.Equal(got, want) {
			t.Errorf("emptyFirst=%v: first run took snapshots of %v, want %v", emptyFirst, got, want)
		}
		e.writePost("2024-06-01-new.md", "New", "2024-06-01 13:05:00")
		e.clock.Advance(2 * time.Hour)
		if _, err := d.Scan(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Scan(context.Background()); err != nil { // nothing new: no snapshot again
			t.Fatal(err)
		}
		want = append(want, "2024-06-01-new.md")
		slices.Sort(want)
		if got := e.snap.(*snapshots).taken(); !slices.Equal(got, want) {
			t.Errorf("emptyFirst=%v: snapshots %v, want %v", emptyFirst, got, want)
		}
		for _, a := range e.announcements() {
			if a.Queued != a.Snapshot {
				t.Errorf("emptyFirst=%v: announcement %s queued=%v snapshot=%v, want a snapshot exactly when queued", emptyFirst, a.Path, a.Queued, a.Snapshot)
			}
		}
	}

	e := newEnv(t, "UTC")
	e.backfill = true
	e.snap = &snapshots{}
	d, _ := e.daemon()
	e.writePost("2024-01-01-old-a.md", "Old A", "2024-01-01 10:00:00")
	if _, err := d.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.snap.(*snapshots).taken(); !slices.Equal(got, []string{"2024-01-01-old-a.md"}) {
		t.Errorf("backfill: snapshots %v, want the archive's", got)
	}
	if list := e.announcements(); len(list) != 1 || !list[0].Queued || !list[0].Snapshot {
		t.Errorf("backfill: announcements %+v, want queued with a snapshot", list)
	}
}

// slowSnapshots never finishes a snapshot until release is closed.
type slowSnapshots struct{ release chan struct{} }

func (s *slowSnapshots) MailSnapshot(ctx context.Context, p *feed.Post) ([]byte, error) {
	<-s.release
	return []byte("late"), nil
}

// TestSlowSnapshotDoesNotHoldScan: a post whose snapshot takes longer than
// posts.render_timeout is announced without one (the mailer reads it when
// it sends), and the scan publishes the feeds meanwhile.
func TestSlowSnapshotDoesNotHoldScan(t *testing.T) {
	e := newEnv(t, "UTC")
	slow := &slowSnapshots{release: make(chan struct{})}
	defer close(slow.release)
	e.snap = slow
	d, _ := e.daemon()
	if _, err := d.Scan(context.Background()); err != nil { // the first run: an empty blog
		t.Fatal(err)
	}
	e.writePost("2024-06-01-new.md", "New", "2024-06-01 12:30:00")
	e.clock.Advance(time.Hour)
	done := make(chan error, 1)
	go func() { _, err := d.Scan(context.Background()); done <- err }()
	for i := 0; ; i++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			list := e.announcements()
			if len(list) != 1 || !list[0].Queued || list[0].Snapshot {
				t.Errorf("announcements %+v, want the post queued without a snapshot", list)
			}
			if got := e.titles(); !slices.Contains(got, "New") {
				t.Errorf("feed titles %v, want the new post published", got)
			}
			return
		case <-time.After(5 * time.Millisecond):
		}
		if i > 2000 {
			t.Fatal("the scan waits for the slow snapshot")
		}
		e.clock.Advance(500 * time.Millisecond)
	}
}
