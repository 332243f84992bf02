package storetest

import (
	"context"
	"fmt"
	"herald/schedule/store"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// t0 is the tests' "now".
var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// post returns a SeenPost named id, dated date, due when date <= now.
func post(id string, date, now time.Time) store.SeenPost {
	return store.SeenPost{
		ID: id, Path: "_posts/" + id + ".md", Slug: id, Title: "Title " + id,
		URL: "https://example.com/" + id + "/", Hash: "h-" + id,
		Date: date, Due: !date.After(now),
	}
}

// makePosts returns n posts dated one minute apart from start.
func makePosts(n int, start time.Time, due bool) []store.SeenPost {
	ps := make([]store.SeenPost, n)
	for i := range ps {
		id := fmt.Sprintf("post-%05d", i)
		ps[i] = store.SeenPost{
			ID: id, Path: "_posts/" + id + ".md", Slug: id, Title: "Post " + id,
			URL: "https://example.com/" + id + "/", Hash: fmt.Sprintf("%064x", i),
			Date: start.Add(time.Duration(i) * time.Minute), Due: due,
		}
	}
	return ps
}

func record(t *testing.T, db store.Store, now time.Time, posts []store.SeenPost, backfill bool) store.RecordResult {
	t.Helper()
	res, err := db.Record(context.Background(), now, posts, backfill)
	if err != nil {
		t.Fatalf("Record: %v", err)
	}
	return res
}

// ids lists the post IDs of as, and whether each is queued.
func ids(as []store.Announcement) []string {
	var out []string
	for _, a := range as {
		out = append(out, fmt.Sprintf("%s queued=%v", a.PostID, a.Queued))
	}
	return out
}

func announcements(t *testing.T, db store.Store) []store.Announcement {
	t.Helper()
	list, err := db.Announcements(context.Background(), 0)
	if err != nil {
		t.Fatalf("Announcements: %v", err)
	}
	return list
}

func postState(t *testing.T, db store.Store, id string) store.PostState {
	t.Helper()
	m, err := db.Posts(context.Background())
	if err != nil {
		t.Fatalf("Posts: %v", err)
	}
	p, ok := m[id]
	if !ok {
		t.Fatalf("post %s not in Posts", id)
	}
	return p
}

func testRecordFirstRun(t *testing.T, bk Backend) {
	for _, backfill := range []bool{false, true} {
		t.Run(fmt.Sprintf("backfill=%v", backfill), func(t *testing.T) {
			db := bk.fresh(t)
			posts := []store.SeenPost{
				post("newer", t0.Add(-time.Hour), t0),
				post("future", t0.Add(time.Hour), t0),
				post("older", t0.Add(-48*time.Hour), t0),
			}
			res := record(t, db, t0, posts, backfill)
			if !res.Seeded {
				t.Error("Seeded = false on the first run")
			}
			want := []string{
				fmt.Sprintf("older queued=%v", backfill),
				fmt.Sprintf("newer queued=%v", backfill),
			}
			if got := ids(res.Announced); !slices.Equal(got, want) {
				t.Errorf("Announced = %q, want %q (date order)", got, want)
			}
			if got := ids(announcements(t, db)); len(got) != 2 {
				t.Errorf("Announcements = %q, want 2 rows", got)
			}
			if v, err := db.Meta(context.Background(), "seeded"); err != nil || v != t0.Format(time.RFC3339) {
				t.Errorf("meta seeded = %q, %v; want %s", v, err, t0.Format(time.RFC3339))
			}
			if p := postState(t, db, "future"); !p.AnnouncedAt.IsZero() {
				t.Errorf("future post announced at %v", p.AnnouncedAt)
			}

			// The next run is not a first run; the future post, once due, is queued.
			later := t0.Add(2 * time.Hour)
			res = record(t, db, later, []store.SeenPost{post("future", t0.Add(time.Hour), later)}, backfill)
			if res.Seeded {
				t.Error("Seeded = true on the second run")
			}
			if got, want := ids(res.Announced), []string{"future queued=true"}; !slices.Equal(got, want) {
				t.Errorf("second run Announced = %q, want %q", got, want)
			}
		})
	}
}

func testRecordEmptyBlogFirstRun(t *testing.T, bk Backend) {
	// A blog with no posts on the first run (a new blog, or a posts folder
	// not mounted yet): posts dated after the first run are mailed, the
	// archive dated before it is not.
	db := bk.fresh(t)
	if res := record(t, db, t0, nil, false); res.Seeded || len(res.Announced) != 0 {
		t.Fatalf("first Record(nil) = %+v, want not seeded and nothing announced", res)
	}
	if res := record(t, db, t0.Add(time.Minute), nil, false); res.Seeded {
		t.Fatalf("second Record(nil) seeded")
	}
	later := t0.Add(time.Hour)
	res := record(t, db, later, []store.SeenPost{post("archive", t0.Add(-24*time.Hour), later), post("first", later, later)}, false)
	if !res.Seeded {
		t.Errorf("the first Record with a due post did not seed")
	}
	if got, want := ids(res.Announced), []string{"archive queued=false", "first queued=true"}; !slices.Equal(got, want) {
		t.Errorf("Announced = %q, want %q", got, want)
	}
}

func testRecordAnnouncesOnce(t *testing.T, bk Backend) {
	db := bk.fresh(t)
	record(t, db, t0.Add(-time.Hour), nil, false) // first run, before the post
	p := post("a", t0.Add(-time.Minute), t0)

	res := record(t, db, t0, []store.SeenPost{p}, false)
	if got := ids(res.Announced); !slices.Equal(got, []string{"a queued=true"}) {
		t.Fatalf("first Record Announced = %q", got)
	}
	for i := range 3 {
		if res := record(t, db, t0.Add(time.Duration(i)*time.Minute), []store.SeenPost{p, p}, false); len(res.Announced) != 0 {
			t.Errorf("Record %d announced again: %q", i+2, ids(res.Announced))
		}
	}
	if got := announcements(t, db); len(got) != 1 {
		t.Errorf("%d announcement rows, want 1", len(got))
	}
}

func testRecordRestartDoesNotReannounce(t *testing.T, bk Backend) {
	path := bk.New(t)
	db := bk.Open(t, path)
	posts := makePosts(5, t0.Add(-time.Hour), true)
	record(t, db, t0, posts, false)
	db.Close()

	db = bk.Open(t, path)
	res := record(t, db, t0.Add(time.Minute), posts, false)
	if res.Seeded || len(res.Announced) != 0 {
		t.Errorf("after restart Record = Seeded %v, Announced %q; want nothing", res.Seeded, ids(res.Announced))
	}
}

func testRecordBecomesDueLater(t *testing.T, bk Backend) {
	db := bk.fresh(t)
	record(t, db, t0, nil, false)
	date := t0.Add(10 * time.Minute)

	if res := record(t, db, t0, []store.SeenPost{post("soon", date, t0)}, false); len(res.Announced) != 0 {
		t.Fatalf("not-due post announced: %q", ids(res.Announced))
	}
	if p := postState(t, db, "soon"); !p.AnnouncedAt.IsZero() || !p.Date.Equal(date) || !p.FirstSeen.Equal(t0) {
		t.Errorf("PostState = %+v", p)
	}
	now := date.Add(time.Second)
	res := record(t, db, now, []store.SeenPost{post("soon", date, now)}, false)
	if got := ids(res.Announced); !slices.Equal(got, []string{"soon queued=true"}) {
		t.Fatalf("Announced = %q, want soon", got)
	}
	a := res.Announced[0]
	if !a.Date.Equal(date) || !a.CreatedAt.Equal(now) || a.Manual || a.Path != "_posts/soon.md" || a.URL == "" || a.Title != "Title soon" {
		t.Errorf("Announcement = %+v", a)
	}
	if p := postState(t, db, "soon"); !p.AnnouncedAt.Equal(now) || !p.FirstSeen.Equal(t0) {
		t.Errorf("PostState = %+v, want announced at %v, first seen %v", p, now, t0)
	}
}

func testRecordDeletedThenReadded(t *testing.T, bk Backend) {
	db := bk.fresh(t)
	record(t, db, t0, nil, false)
	p := post("gone", t0.Add(-time.Hour), t0)
	record(t, db, t0, []store.SeenPost{p}, false)

	// Deleted: the daemon stops passing it. Re-added a day later, edited.
	later := t0.Add(24 * time.Hour)
	p.Hash, p.Title = "h-new", "New title"
	if res := record(t, db, later, []store.SeenPost{p}, false); len(res.Announced) != 0 {
		t.Errorf("re-added post announced again: %q", ids(res.Announced))
	}
	got := postState(t, db, "gone")
	if got.Hash != "h-new" || got.Title != "New title" {
		t.Errorf("post not updated: %+v", got)
	}
	if !got.FirstSeen.Equal(t0) || !got.AnnouncedAt.Equal(t0) {
		t.Errorf("first seen %v, announced %v; want both %v", got.FirstSeen, got.AnnouncedAt, t0)
	}
}

func testRecordDateMovedToFuture(t *testing.T, bk Backend) {
	db := bk.fresh(t)
	record(t, db, t0, nil, false)
	record(t, db, t0, []store.SeenPost{post("moved", t0.Add(-time.Hour), t0)}, false)

	// Moved a week ahead: no longer due.
	future := t0.Add(7 * 24 * time.Hour)
	now := t0.Add(time.Minute)
	if res := record(t, db, now, []store.SeenPost{post("moved", future, now)}, false); len(res.Announced) != 0 {
		t.Errorf("announced while in the future: %q", ids(res.Announced))
	}
	if got := postState(t, db, "moved"); !got.Date.Equal(future) {
		t.Errorf("date = %v, want %v", got.Date, future)
	}
	// Due again a week later: not announced a second time.
	now = future.Add(time.Second)
	if res := record(t, db, now, []store.SeenPost{post("moved", future, now)}, false); len(res.Announced) != 0 {
		t.Errorf("announced again when due: %q", ids(res.Announced))
	}
	if n := len(announcements(t, db)); n != 1 {
		t.Errorf("%d announcements, want 1", n)
	}
}

func testRecordEmptyID(t *testing.T, bk Backend) {
	db := bk.fresh(t)
	_, err := db.Record(context.Background(), t0, []store.SeenPost{{Path: "_posts/x.md", Due: true}}, false)
	if err == nil || !strings.Contains(err.Error(), "_posts/x.md") || !strings.HasPrefix(err.Error(), "store: ") {
		t.Errorf("Record with an empty ID = %v, want an error naming the path", err)
	}
}

func testTimesUTC(t *testing.T, bk Backend) {
	db := bk.fresh(t)
	zone := time.FixedZone("CEST", 2*3600)
	now := t0.In(zone).Add(123 * time.Millisecond)
	date := t0.Add(-time.Hour).In(zone)
	record(t, db, now, nil, false)
	res := record(t, db, now, []store.SeenPost{{ID: "z", Date: date, Due: true}}, false)

	p := postState(t, db, "z")
	list := announcements(t, db)
	for name, tm := range map[string]time.Time{
		"Record Date": res.Announced[0].Date, "Record CreatedAt": res.Announced[0].CreatedAt,
		"Posts Date": p.Date, "Posts FirstSeen": p.FirstSeen, "Posts AnnouncedAt": p.AnnouncedAt,
		"Announcements Date": list[0].Date, "Announcements CreatedAt": list[0].CreatedAt,
	} {
		if tm.Location() != time.UTC {
			t.Errorf("%s in %v, want UTC", name, tm.Location())
		}
	}
	if !p.Date.Equal(date) || !p.FirstSeen.Equal(t0) || !list[0].CreatedAt.Equal(t0) {
		t.Errorf("Date %v FirstSeen %v CreatedAt %v; want %v, %v, %v", p.Date, p.FirstSeen, list[0].CreatedAt, date, t0, t0)
	}
}

func testAnnounce(t *testing.T, bk Backend) {
	ctx := context.Background()
	send := t0.Add(time.Hour)

	t.Run("never seen", func(t *testing.T) {
		db := bk.fresh(t)
		record(t, db, t0, nil, false)
		p := post("new", t0.Add(-time.Minute), t0)
		a, created, err := db.Announce(ctx, send, p)
		if err != nil || !created {
			t.Fatalf("Announce = %v, %v; want created", created, err)
		}
		if !a.Manual || !a.Queued || a.PostID != "new" || !a.CreatedAt.Equal(send) || a.ID == 0 {
			t.Errorf("Announcement = %+v", a)
		}
		// Record does not announce it a second time.
		if res := record(t, db, send, []store.SeenPost{p}, false); len(res.Announced) != 0 {
			t.Errorf("Record after Announce announced %q", ids(res.Announced))
		}
		// Nor does a second send.
		again, created, err := db.Announce(ctx, send.Add(time.Hour), p)
		if err != nil || created || again != a {
			t.Errorf("second Announce = %+v, %v, %v; want %+v, false", again, created, err, a)
		}
		if n := len(announcements(t, db)); n != 1 {
			t.Errorf("%d announcements, want 1", n)
		}
	})

	t.Run("already queued by Record", func(t *testing.T) {
		// Waiting (for a digest, say): `herald send` makes it the manual
		// announcement, mailed at once; no second row.
		db := bk.fresh(t)
		record(t, db, t0.Add(-time.Hour), nil, false)
		p := post("auto", t0, t0)
		res := record(t, db, t0, []store.SeenPost{p}, false)
		a, created, err := db.Announce(ctx, send, p)
		if err != nil || created {
			t.Fatalf("Announce = %v, %v; want the existing one", created, err)
		}
		if a.ID != res.Announced[0].ID || !a.Manual {
			t.Errorf("Announce returned %+v, want the waiting announcement %+v turned manual", a, res.Announced[0])
		}
		if got := announcements(t, db); len(got) != 1 || !got[0].Manual {
			t.Errorf("announcements %+v, want the one, manual", got)
		}
	})

	t.Run("seeded without mail", func(t *testing.T) {
		db := bk.fresh(t)
		p := post("archive", t0.Add(-time.Hour), t0)
		if res := record(t, db, t0, []store.SeenPost{p}, false); res.Announced[0].Queued {
			t.Fatal("seeded post queued")
		}
		a, created, err := db.Announce(ctx, send, p)
		if err != nil || !created || !a.Queued || !a.Manual {
			t.Fatalf("Announce = %+v, %v, %v; want a new queued manual announcement", a, created, err)
		}
		if _, created, _ := db.Announce(ctx, send, p); created {
			t.Error("second Announce created another")
		}
		list := announcements(t, db)
		if len(list) != 2 || list[0].ID != a.ID {
			t.Errorf("Announcements = %+v, want the manual one first, then the seeded one", list)
		}
		// Announced at the seeding, not at the manual send.
		if got := postState(t, db, "archive").AnnouncedAt; !got.Equal(t0) {
			t.Errorf("AnnouncedAt = %v, want %v", got, t0)
		}
	})
}

func testAnnouncementsOrderAndLimit(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	record(t, db, t0, nil, false)
	for i := range 5 {
		now := t0.Add(time.Duration(i) * time.Hour)
		record(t, db, now, []store.SeenPost{post(fmt.Sprint("p", i), now, now)}, false)
	}
	list, err := db.Announcements(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range list {
		got = append(got, a.PostID)
	}
	if want := []string{"p4", "p3", "p2"}; !slices.Equal(got, want) {
		t.Errorf("Announcements(3) = %q, want %q", got, want)
	}
	if a := list[0]; a.Path != "_posts/p4.md" || a.Title != "Title p4" || a.URL != "https://example.com/p4/" ||
		!a.Date.Equal(t0.Add(4*time.Hour)) || !a.MailedAt.IsZero() {
		t.Errorf("joined fields: %+v", a)
	}
	if all := announcements(t, db); len(all) != 5 {
		t.Errorf("Announcements(0) = %d rows, want 5", len(all))
	}

	empty := bk.fresh(t)
	if got, err := empty.Announcements(ctx, 10); err != nil || got == nil || len(got) != 0 {
		t.Errorf("empty Announcements = %#v, %v; want an empty non-nil slice", got, err)
	}
}

func testRecordManyFirstRun(t *testing.T, bk Backend) {
	db := bk.fresh(t)
	n := 10000
	if raceEnabled || testing.Short() {
		n = 500
	}
	posts := makePosts(n, t0.Add(-365*24*time.Hour), true)
	start := time.Now()
	res := record(t, db, t0, posts, false)
	el := time.Since(start)
	if len(res.Announced) != len(posts) {
		t.Fatalf("announced %d, want %d", len(res.Announced), len(posts))
	}
	t.Logf("first run with %d posts: %v", len(posts), el)
	m, err := db.Posts(context.Background())
	if err != nil || len(m) != len(posts) {
		t.Fatalf("Posts = %d, %v", len(m), err)
	}
}

// TestRecordRenamedPostNotMailedAgain: renaming a post file changes its path
// and permalink (its id) but it is the same post: announced, not mailed.
func testRecordRenamedPostNotMailedAgain(t *testing.T, bk Backend) {
	db := bk.fresh(t)
	record(t, db, t0.Add(-time.Hour), nil, false)
	orig := post("hello", t0.Add(-time.Minute), t0)
	if got := ids(record(t, db, t0, []store.SeenPost{orig}, false).Announced); !slices.Equal(got, []string{"hello queued=true"}) {
		t.Fatalf("first announcement = %q", got)
	}
	tests := []struct {
		name string
		edit func(p *store.SeenPost)
	}{
		{"same content", func(p *store.SeenPost) {}},
		{"edited, same title and date", func(p *store.SeenPost) { p.Hash = "edited" }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := orig
			p.ID = fmt.Sprintf("https://example.com/renamed-%d/", i)
			p.Path = fmt.Sprintf("renamed-%d.md", i)
			tt.edit(&p)
			res := record(t, db, t0.Add(time.Duration(i+1)*time.Minute), []store.SeenPost{p}, false)
			if len(res.Announced) != 1 || res.Announced[0].Queued {
				t.Errorf("renamed post: announced %+v, want recorded without mail", res.Announced)
			}
		})
	}
	other := post("other", t0.Add(-2*time.Minute), t0)
	if res := record(t, db, t0.Add(time.Hour), []store.SeenPost{other}, false); len(res.Announced) != 1 || !res.Announced[0].Queued {
		t.Errorf("a different post: %+v, want queued", res.Announced)
	}
}

// Several daemons on one database scan the same posts at the same time:
// each due post is announced once, by one of them.
func testRecordConcurrentAnnouncesOnce(t *testing.T, bk Backend) {
	path := bk.New(t)
	first := bk.Open(t, path)
	record(t, first, t0.Add(-time.Hour), nil, false) // the first run, before the posts
	posts := makePosts(20, t0.Add(-30*time.Minute), true)
	const daemons = 4
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		count = map[string]int{}
	)
	for i := range daemons {
		h := first
		if i > 0 {
			h = bk.Open(t, path)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 3 {
				res, err := h.Record(context.Background(), t0.Add(time.Duration(round)*time.Second), posts, false)
				if err != nil {
					t.Errorf("Record: %v", err)
					return
				}
				mu.Lock()
				for _, a := range res.Announced {
					count[a.PostID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, p := range posts {
		if count[p.ID] != 1 {
			t.Errorf("post %s announced %d times, want once", p.ID, count[p.ID])
		}
	}
	if got := announcements(t, first); len(got) != len(posts) {
		t.Errorf("%d announcement rows, want %d", len(got), len(posts))
	}
}
