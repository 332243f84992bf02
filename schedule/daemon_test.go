package schedule

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"herald/schedule/store"
)

func TestFirstRunSeeding(t *testing.T) {
	for _, backfill := range []bool{false, true} {
		t.Run(map[bool]string{false: "no backfill", true: "backfill"}[backfill], func(t *testing.T) {
			e := newEnv(t, "UTC")
			e.backfill = backfill
			e.writePost("2024-01-01-one.md", "One", "2024-01-01 10:00:00")
			e.writePost("2024-02-01-two.md", "Two", "2024-02-01 10:00:00")
			e.writePost("2024-03-01-draft.md", "Draft", "2024-03-01 10:00:00", "draft: true")
			e.writePost("2024-07-01-future.md", "Future", "2024-07-01 10:00:00")
			d, _ := e.daemon()

			res, err := d.Scan(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !res.Seeded {
				t.Error("Seeded = false on the first run")
			}
			if got, want := announcedTitles(res.Announced), []string{"One", "Two"}; !equal(got, want) {
				t.Errorf("announced %v, want %v", got, want)
			}
			for _, a := range res.Announced {
				if a.Queued != backfill {
					t.Errorf("%s: Queued = %v, want %v", a.Title, a.Queued, backfill)
				}
			}
			wantWakes := int64(0)
			if backfill {
				wantWakes = 1
			}
			if got := e.news.wakes.Load(); got != wantWakes {
				t.Errorf("newsletter woken %d times, want %d", got, wantWakes)
			}
			if got, want := e.titles(), []string{"Two", "One"}; !equal(got, want) {
				t.Errorf("feed titles %v, want %v", got, want)
			}
			if !backfill && !strings.Contains(e.logs.String(), "first run: recorded 2 posts already published as announced without mailing; set mail.backfill = true to mail them") {
				t.Errorf("seeding not logged:\n%s", e.logs.String())
			}
			if got := res.NextPostDue; !got.Equal(time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)) {
				t.Errorf("NextPostDue = %v", got)
			}
		})
	}
}

// TestFirstRunEmptyFolderThenFirstPostIsMailed: a first run on an empty
// (or not yet mounted) posts folder does not make the archive that appears
// later "new": posts dated before the first run are recorded without mail;
// a post dated after it is mailed.
func TestFirstRunEmptyFolderThenFirstPostIsMailed(t *testing.T) {
	e := newEnv(t, "UTC")
	d, _ := e.daemon()
	if _, err := d.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	e.writePost("2024-05-01-archive.md", "Archive", "2024-05-01 10:00:00")
	e.writePost("2024-06-01-first.md", "First", "2024-06-01 12:30:00")
	res, err := d.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, a := range res.Announced {
		got[a.Title] = a.Queued
	}
	if !res.Seeded || len(got) != 2 || got["Archive"] || !got["First"] {
		t.Errorf("Seeded=%v announced=%+v, want the archive recorded without mail and First queued", res.Seeded, res.Announced)
	}
}

// TestExactTimer: a future post is published when the clock reaches its
// date — by the exact timer, since the cron tick is a year away — and
// announced once; a restart announces nothing again.
func TestExactTimer(t *testing.T) {
	e := newEnv(t, "UTC")
	e.writePost("2024-01-01-old.md", "Old", "2024-01-01 10:00:00")
	e.writePost("2024-06-01-later.md", "Later", "2024-06-01 14:00:00") // t0 + 2h
	d, scans := e.daemon()
	stop := e.run(d)

	first := waitScan(t, scans)
	if first.err != nil {
		t.Fatal(first.err)
	}
	due := time.Date(2024, 6, 1, 14, 0, 0, 0, time.UTC)
	if h := d.Health(context.Background()); !h.NextPostDue.Equal(due) || h.Status != "ok" {
		t.Fatalf("health = %+v, want ok with next_post_due %v", h, due)
	}

	e.clock.Advance(2*time.Hour - time.Second)
	d.Wake() // a scan one second early must not publish it
	early := waitScan(t, scans)
	if got := e.titles(); !equal(got, []string{"Old"}) {
		t.Fatalf("at %v the feed holds %v, want only Old", early.res.At, got)
	}

	e.clock.Advance(time.Second)
	s := waitScan(t, scans)
	if s.err != nil {
		t.Fatal(s.err)
	}
	if !s.res.At.Equal(due) {
		t.Errorf("scan at %v, want exactly %v", s.res.At, due)
	}
	if got := announcedTitles(s.res.Announced); !equal(got, []string{"Later"}) || !s.res.Announced[0].Queued {
		t.Errorf("announced %+v, want Later queued", s.res.Announced)
	}
	if got := e.titles(); !equal(got, []string{"Later", "Old"}) {
		t.Errorf("feed titles %v", got)
	}
	if got := e.news.wakes.Load(); got != 1 {
		t.Errorf("newsletter woken %d times, want 1", got)
	}
	noScan(t, scans)
	stop()

	// Restart: a new daemon on the same database announces nothing.
	e.clock.Advance(time.Hour)
	d2, scans2 := e.daemon()
	stop2 := e.run(d2)
	s2 := waitScan(t, scans2)
	if s2.err != nil || len(s2.res.Announced) != 0 || s2.res.Seeded {
		t.Errorf("after restart: err %v, announced %+v, seeded %v", s2.err, s2.res.Announced, s2.res.Seeded)
	}
	stop2()
	if got := announcedTitles(e.announcements()); !equal(got, []string{"Old", "Later"}) {
		t.Errorf("announcement rows %v, want Old, Later", got)
	}
}

// TestDowntime: posts that fell due while the daemon was down are announced
// once by the first scan after the restart.
func TestDowntime(t *testing.T) {
	e := newEnv(t, "UTC")
	e.writePost("2024-01-01-old.md", "Old", "2024-01-01 10:00:00")
	d, _ := e.daemon()
	if _, err := d.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.writePost("2024-06-02-a.md", "A", "2024-06-02 10:00:00")
	e.writePost("2024-06-03-b.md", "B", "2024-06-03 10:00:00")
	e.clock.Set(time.Date(2024, 6, 10, 0, 0, 0, 0, time.UTC)) // down for nine days

	d2, _ := e.daemon()
	res, err := d2.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := announcedTitles(res.Announced); !equal(got, []string{"A", "B"}) {
		t.Errorf("announced %v, want A, B", got)
	}
	res, _ = d2.Scan(context.Background())
	if len(res.Announced) != 0 {
		t.Errorf("second scan announced %v", announcedTitles(res.Announced))
	}
}

func TestEditedDeletedMovedPosts(t *testing.T) {
	e := newEnv(t, "UTC")
	a := e.writePost("2024-01-01-a.md", "A", "2024-01-01 10:00:00")
	b := e.writePost("2024-02-01-b.md", "B", "2024-02-01 10:00:00")
	e.writePost("2024-03-01-c.md", "C", "2024-03-01 10:00:00")
	d, _ := e.daemon()
	ctx := context.Background()
	if _, err := d.Scan(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("edited", func(t *testing.T) {
		e.writePost("2024-01-01-a.md", "A edited", "2024-01-01 10:00:00")
		res, err := d.Scan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Recorded != 1 || len(res.Announced) != 0 || !res.Generated {
			t.Errorf("recorded %d, announced %v, generated %v; want 1, none, true", res.Recorded, announcedTitles(res.Announced), res.Generated)
		}
		if got := e.titles(); !equal(got, []string{"C", "B", "A edited"}) {
			t.Errorf("feed %v", got)
		}
	})
	t.Run("deleted", func(t *testing.T) {
		if err := os.Remove(a); err != nil {
			t.Fatal(err)
		}
		res, err := d.Scan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Announced) != 0 {
			t.Errorf("announced %v", announcedTitles(res.Announced))
		}
		if got := e.titles(); !equal(got, []string{"C", "B"}) {
			t.Errorf("feed %v", got)
		}
	})
	t.Run("moved into the future", func(t *testing.T) {
		// The date in front matter wins over the file name's.
		e.writePost("2024-02-01-b.md", "B", "2024-06-05 10:00:00")
		res, err := d.Scan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.titles(); !equal(got, []string{"C"}) {
			t.Errorf("feed %v, want B gone until due", got)
		}
		due := time.Date(2024, 6, 5, 10, 0, 0, 0, time.UTC)
		if !res.NextPostDue.Equal(due) {
			t.Errorf("NextPostDue %v, want %v", res.NextPostDue, due)
		}
		e.clock.Set(due)
		res, err = d.Scan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Announced) != 0 {
			t.Errorf("B announced again: %+v", res.Announced)
		}
		if got := e.titles(); !equal(got, []string{"B", "C"}) {
			t.Errorf("feed %v, want B back", got)
		}
	})
	t.Run("re-added after deletion", func(t *testing.T) {
		e.writePost("2024-01-01-a.md", "A edited", "2024-01-01 10:00:00")
		res, err := d.Scan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Announced) != 0 {
			t.Errorf("A announced again: %+v", res.Announced)
		}
	})
	_ = b
	if got := len(e.announcements()); got != 3 {
		t.Errorf("%d announcement rows, want 3 (the seeding)", got)
	}
}

// TestDST: posts dated in the hour skipped (spring) and repeated (autumn)
// in Europe/Berlin are published once, at their instant, by the exact timer.
func TestDST(t *testing.T) {
	for _, tc := range []struct {
		name, date string
		start      time.Time
		want       time.Time
	}{
		// 02:30 does not exist on 2024-03-31: the Loader reads 03:30 CEST.
		{"skipped hour", "2024-03-31 02:30:00", time.Date(2024, 3, 30, 20, 0, 0, 0, time.UTC), time.Date(2024, 3, 31, 1, 30, 0, 0, time.UTC)},
		// 02:30 happens twice on 2024-10-27: the Loader reads the later one (CET).
		{"repeated hour", "2024-10-27 02:30:00", time.Date(2024, 10, 26, 20, 0, 0, 0, time.UTC), time.Date(2024, 10, 27, 1, 30, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "Europe/Berlin")
			e.cron = "@hourly" // hourly ticks run through the DST change too
			e.clock = newFakeClock(tc.start)
			e.writePost("2024-01-01-old.md", "Old", "2024-01-01 10:00:00")
			e.writePost("2024-03-01-dst.md", "DST", tc.date)
			d, scans := e.daemon()
			e.run(d)
			if s := waitScan(t, scans); s.err != nil || !s.res.NextPostDue.Equal(tc.want) {
				t.Fatalf("first scan: err %v, next post due %v, want %v", s.err, s.res.NextPostDue, tc.want)
			}
			// The first scan's hook runs before the loop arms its timer:
			// moving the clock now could land between the loop's Now and
			// its Reset, arming the timer a minute late for a deadline
			// computed before the move; settle (the loop waits on its
			// timer) and only then walk.
			settle(t, d, e.clock)
			var published []time.Time
			// Walk the clock minute by minute through the night, draining
			// the scans (hourly ticks and the exact timer).
			for e.clock.Now().Before(tc.start.Add(10 * time.Hour)) {
				e.clock.Advance(time.Minute)
				settle(t, d, e.clock)
				for drained := false; !drained; {
					select {
					case s := <-scans:
						if s.err != nil {
							t.Fatal(s.err)
						}
						for range s.res.Announced {
							published = append(published, s.res.At)
						}
					default:
						drained = true
					}
				}
			}
			if len(published) != 1 || !published[0].Equal(tc.want) {
				t.Errorf("announced at %v, want once at %v", published, tc.want)
			}
			if got := announcedTitles(e.announcements()); !equal(got, []string{"Old", "DST"}) {
				t.Errorf("announcement rows %v", got)
			}
		})
	}
}

func TestUnchangedRescanWritesNothing(t *testing.T) {
	e := newEnv(t, "UTC")
	for i, title := range []string{"A", "B", "C"} {
		e.writePost("2024-0"+string(rune('1'+i))+"-01-p.md", title, "2024-0"+string(rune('1'+i))+"-01 10:00:00")
	}
	d, _ := e.daemon()
	ctx := context.Background()
	if _, err := d.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(e.public, "feed.xml"))
	if err != nil {
		t.Fatal(err)
	}
	records, metas := e.store.records.Load(), e.store.metas.Load()

	e.clock.Advance(30 * time.Second)
	res, err := d.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.store.records.Load() - records; got != 0 {
		t.Errorf("%d Record calls on an unchanged rescan, want 0", got)
	}
	if got := e.store.metas.Load() - metas; got != 0 {
		t.Errorf("%d SetMeta calls within a minute of the last, want 0", got)
	}
	if res.Generated || res.Recorded != 0 {
		t.Errorf("Generated %v, Recorded %d; want false, 0", res.Generated, res.Recorded)
	}
	fi2, _ := os.Stat(filepath.Join(e.public, "feed.xml"))
	if !fi2.ModTime().Equal(fi.ModTime()) {
		t.Error("feed.xml rewritten")
	}

	// A minute later the heartbeat rewrites last_scan_at only.
	e.clock.Advance(time.Minute)
	if _, err := d.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.store.metas.Load() - metas; got != 1 {
		t.Errorf("%d SetMeta calls after a minute, want 1 (last_scan_at)", got)
	}
}

func TestScanPanicIsRecovered(t *testing.T) {
	e := newEnv(t, "UTC")
	e.writePost("2024-01-01-a.md", "A", "2024-01-01 10:00:00")
	d, scans := e.daemon()
	e.store.panicOn.Store(true)
	e.run(d)
	s := waitScan(t, scans)
	if s.err == nil || !strings.Contains(s.err.Error(), "panicked") {
		t.Fatalf("err = %v, want a recovered panic", s.err)
	}
	e.store.panicOn.Store(false)
	d.Wake()
	if s := waitScan(t, scans); s.err != nil {
		t.Fatalf("the loop did not survive the panic: %v", s.err)
	}
	if got := d.Health(context.Background()); got.Status != "ok" {
		t.Errorf("health %+v", got)
	}
}

func TestRunStopsAndNotifies(t *testing.T) {
	e := newEnv(t, "UTC")
	d, scans := e.daemon()
	var (
		mu     sync.Mutex
		states []string
	)
	d.opts.Notify = func(s string) {
		mu.Lock()
		defer mu.Unlock()
		states = append(states, s)
	}
	stop := e.run(d)
	waitScan(t, scans)
	stop()
	mu.Lock()
	defer mu.Unlock()
	if len(states) < 2 || !strings.HasPrefix(states[0], "READY=1\nSTATUS=") || states[len(states)-1] != "STOPPING=1" {
		t.Errorf("notify states %q, want READY=1 first and STOPPING=1 last", states)
	}
}

// settle waits until d's loop has handled every deadline the fake clock
// has reached: it waits on its timer for a later time. (Polling the loop
// goroutine's state, not a schedule.) A test walking the clock must settle
// before each move, the first one included: the loop arms its timer for
// a deadline minus a Now it read just before, so a move in between arms
// it late by the move, and the walk then waits on a timer that never
// fires.
func settle(t testing.TB, d *Daemon, c *fakeClock) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		d.mu.Lock()
		until := d.waitingUntil
		d.mu.Unlock()
		if !until.IsZero() && until.After(c.Now()) {
			return
		}
		time.Sleep(50 * time.Microsecond)
	}
	t.Fatal("the loop did not settle within 10s")
}

func TestDigestTick(t *testing.T) {
	e := newEnv(t, "UTC")
	d, scans := e.daemon()
	s, err := parseSpec("0 13 * * *")
	if err != nil {
		t.Fatal(err)
	}
	d.digest = &s
	e.run(d)
	waitScan(t, scans)
	settle(t, d, e.clock)
	e.clock.Advance(59 * time.Minute)
	settle(t, d, e.clock)
	if e.news.digests.Load() != 0 {
		t.Fatal("digest before 13:00")
	}
	e.clock.Advance(time.Minute)
	settle(t, d, e.clock)
	if got := e.news.digests.Load(); got != 1 {
		t.Errorf("%d digests at 13:00, want 1", got)
	}
}

// TestDatabaseFailureStillPublishes: when Record fails the scan fails, but
// the feeds are published; the next scan announces the post, once.
func TestDatabaseFailureStillPublishes(t *testing.T) {
	e := newEnv(t, "UTC")
	e.writePost("2024-01-01-a.md", "A", "2024-01-01 10:00:00")
	d, _ := e.daemon()
	ctx := context.Background()
	if _, err := d.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	e.writePost("2024-05-01-b.md", "B", "2024-05-01 10:00:00")
	e.store.failOn.Store(true)
	res, err := d.Scan(ctx)
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
	if len(res.Announced) != 0 {
		t.Errorf("announced %v", announcedTitles(res.Announced))
	}
	if got := e.titles(); !equal(got, []string{"B", "A"}) {
		t.Errorf("feed %v, want B published despite the database", got)
	}
	if h := d.Health(ctx); h.Status != "failing" {
		t.Errorf("health %+v", h)
	}
	e.store.failOn.Store(false)
	for i := range 2 {
		res, err = d.Scan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"B"}
		if i == 1 {
			want = nil
		}
		if got := announcedTitles(res.Announced); !equal(got, want) {
			t.Errorf("scan %d after recovery announced %v, want %v", i, got, want)
		}
	}
}
