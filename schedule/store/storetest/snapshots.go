package storetest

import (
	"bytes"
	"context"
	"errors"
	"herald/schedule/store"
	"testing"
	"time"
)

// withMail is p with a mail snapshot.
func withMail(p store.SeenPost, snap string) store.SeenPost {
	p.Mail = []byte(snap)
	return p
}

// testSnapshotWithAnnouncement: the mail snapshot given with a post is
// stored with its announcement when the announcement is queued for mail,
// and comes back with the mailing's posts (per post in a digest); a post
// recorded without mail (seeding, a renamed post) keeps none.
func testSnapshotWithAnnouncement(t *testing.T, bk Backend) {
	ctx := context.Background()
	t.Run("per post", func(t *testing.T) {
		db := bk.fresh(t)
		record(t, db, t0.Add(-2*time.Hour), nil, false) // first run before the post
		res := record(t, db, t0, []store.SeenPost{withMail(post("a", t0.Add(-time.Hour), t0), "snap-a")}, false)
		if len(res.Announced) != 1 || !res.Announced[0].Queued || !res.Announced[0].Snapshot {
			t.Fatalf("Announced = %+v, want one queued with a snapshot", res.Announced)
		}
		if got := announcements(t, db); len(got) != 1 || !got[0].Snapshot {
			t.Errorf("Announcements = %+v, want the snapshot flagged", got)
		}
		ids := createMailings(t, db, t0, false)
		m, err := db.Mailing(ctx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Posts) != 1 || string(m.Posts[0].Snapshot) != "snap-a" {
			t.Errorf("mailing posts = %+v, want snapshot %q", m.Posts, "snap-a")
		}
	})
	t.Run("digest", func(t *testing.T) {
		db := bk.fresh(t)
		record(t, db, t0.Add(-2*time.Hour), nil, false)
		record(t, db, t0, []store.SeenPost{
			withMail(post("a", t0.Add(-time.Hour), t0), "snap-a"),
			post("b", t0.Add(-30*time.Minute), t0), // no snapshot
			withMail(post("c", t0.Add(-time.Minute), t0), "snap-c"),
		}, false)
		ids := createMailings(t, db, t0, true)
		m, err := db.Mailing(ctx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"snap-a", "", "snap-c"}
		if len(m.Posts) != 3 {
			t.Fatalf("digest posts = %+v", m.Posts)
		}
		for i, p := range m.Posts {
			if string(p.Snapshot) != want[i] || (want[i] == "") != (p.Snapshot == nil) {
				t.Errorf("post %s snapshot = %q (nil %v), want %q", p.PostID, p.Snapshot, p.Snapshot == nil, want[i])
			}
		}
	})
	t.Run("not queued keeps none", func(t *testing.T) {
		db := bk.fresh(t)
		// Seeding: the archive is recorded without mail.
		res := record(t, db, t0, []store.SeenPost{withMail(post("old", t0.Add(-time.Hour), t0), "snap-old")}, false)
		if len(res.Announced) != 1 || res.Announced[0].Queued || res.Announced[0].Snapshot {
			t.Errorf("seeded = %+v, want not queued, no snapshot", res.Announced)
		}
		// A renamed post (same hash, new id) is not mailed again.
		p := withMail(post("renamed", t0.Add(-time.Hour), t0.Add(time.Hour)), "snap-new")
		p.Hash = "h-old"
		res = record(t, db, t0.Add(time.Hour), []store.SeenPost{p}, false)
		if len(res.Announced) != 1 || res.Announced[0].Queued || res.Announced[0].Snapshot {
			t.Errorf("renamed = %+v, want not queued, no snapshot", res.Announced)
		}
	})
	t.Run("binary bytes", func(t *testing.T) {
		db := bk.fresh(t)
		record(t, db, t0.Add(-2*time.Hour), nil, false)
		raw := []byte{0, 1, 2, 0xff, '\'', '"', 0}
		p := post("bin", t0.Add(-time.Hour), t0)
		p.Mail = raw
		record(t, db, t0, []store.SeenPost{p}, false)
		ids := createMailings(t, db, t0, false)
		m, err := db.Mailing(ctx, ids[0])
		if err != nil || len(m.Posts) != 1 || !bytes.Equal(m.Posts[0].Snapshot, raw) {
			t.Errorf("snapshot = %v, %v; want %v", m.Posts, err, raw)
		}
	})
}

// testSnapshotAnnounce: a manual announcement keeps the snapshot it is
// given; an announcement waiting without one (made before snapshots)
// takes the snapshot of a later `herald send`, unless it is off the queue.
func testSnapshotAnnounce(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	record(t, db, t0.Add(-2*time.Hour), nil, false)
	a, created, err := db.Announce(ctx, t0, withMail(post("m", t0.Add(-time.Hour), t0), "snap-m"))
	if err != nil || !created || !a.Snapshot {
		t.Fatalf("Announce = %+v, %v, %v; want created with a snapshot", a, created, err)
	}
	// A legacy announcement: recorded without a snapshot, then sent by hand.
	record(t, db, t0, []store.SeenPost{post("old", t0.Add(-time.Minute), t0)}, false)
	a, created, err = db.Announce(ctx, t0, withMail(post("old", t0.Add(-time.Minute), t0), "snap-old"))
	if err != nil || created || !a.Snapshot {
		t.Fatalf("Announce(waiting legacy) = %+v, %v, %v; want the waiting one, now with a snapshot", a, created, err)
	}
	ids := createMailings(t, db, t0, false)
	got := map[string]string{}
	for _, id := range ids {
		m, err := db.Mailing(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m.Posts {
			got[p.PostID] = string(p.Snapshot)
		}
	}
	if got["m"] != "snap-m" || got["old"] != "snap-old" {
		t.Errorf("snapshots = %v", got)
	}
	// Off the queue: a later send does not replace what is being mailed.
	if a, _, err := db.Announce(ctx, t0, withMail(post("old", t0.Add(-time.Minute), t0), "other")); err != nil || !a.Snapshot {
		t.Fatalf("Announce = %+v, %v", a, err)
	}
	m, _ := db.Mailing(ctx, ids[len(ids)-1])
	for _, p := range m.Posts {
		if p.PostID == "old" && string(p.Snapshot) != "snap-old" {
			t.Errorf("snapshot replaced after the mailing was made: %q", p.Snapshot)
		}
	}
}

// testMailingWait: SetMailingWait records why a mailing waits, readable
// by Mailing, DeliveryStats and Announcements; expanding or skipping the
// mailing clears it.
func testMailingWait(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	addSub(t, db, t0.Add(-3*time.Hour), "s@example.com", store.StatusConfirmed)
	announce(t, db, t0, "p", "q")
	ids := createMailings(t, db, t0, false)
	until := t0.Add(90 * time.Second)
	if err := db.SetMailingWait(ctx, ids[0], "post p cannot be read: broken", until); err != nil {
		t.Fatal(err)
	}
	m, err := db.Mailing(ctx, ids[0])
	if err != nil || m.WaitReason != "post p cannot be read: broken" || !m.WaitUntil.Equal(until) {
		t.Errorf("Mailing = %+v, %v; want the wait", m, err)
	}
	stats, err := db.DeliveryStats(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stats {
		waits := s.MailingID == ids[0]
		if (s.WaitReason != "") != waits || (waits && !s.WaitUntil.Equal(until)) {
			t.Errorf("stats of #%d = %+v", s.MailingID, s)
		}
	}
	for _, a := range announcements(t, db) {
		waits := a.MailingID == ids[0]
		if a.MailingID == 0 || a.Expanded || (a.WaitReason != "") != waits || (waits && !a.WaitUntil.Equal(until)) {
			t.Errorf("announcement %+v", a)
		}
	}
	expand(t, db, t0, ids[0], 1)
	if m, _ := db.Mailing(ctx, ids[0]); m.WaitReason != "" || !m.WaitUntil.IsZero() {
		t.Errorf("after expand: %+v, want no wait", m)
	}
	if err := db.SetMailingWait(ctx, ids[1], "x", until); err != nil {
		t.Fatal(err)
	}
	if err := db.SkipMailing(ctx, t0, ids[1], "gone"); err != nil {
		t.Fatal(err)
	}
	for _, a := range announcements(t, db) {
		switch a.MailingID {
		case ids[0]:
			if !a.Expanded || a.Skipped != "" || a.WaitReason != "" {
				t.Errorf("expanded: %+v", a)
			}
		case ids[1]:
			if a.Skipped != "gone" || a.WaitReason != "" {
				t.Errorf("skipped: %+v", a)
			}
		}
	}
	if err := db.SetMailingWait(ctx, 999, "x", until); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetMailingWait(999) = %v, want ErrNotFound", err)
	}
}

// testRecordEdited: a post's edit time is set when its content hash
// changes after it was announced (published), to the time of the Record
// that saw it; never for a post seen the first time, nor for a change
// before it was published; an unchanged post keeps it; Posts and every
// later Record (another daemon, a restart) return it.
func testRecordEdited(t *testing.T, bk Backend) {
	db := bk.fresh(t)
	p := post("p", t0.Add(-time.Hour), t0)
	future := post("f", t0.Add(time.Hour), t0)
	res := record(t, db, t0, []store.SeenPost{p, future}, false)
	if len(res.Edited) != 0 || !postState(t, db, "p").EditedAt.IsZero() {
		t.Fatalf("first seen: Edited = %v, want none", res.Edited)
	}
	// The future post changes before it is published: no edit.
	t1 := t0.Add(10 * time.Minute)
	future.Hash = "h-f2"
	if res := record(t, db, t1, []store.SeenPost{future}, false); len(res.Edited) != 0 {
		t.Errorf("unpublished change: Edited = %v", res.Edited)
	}
	// The published post is edited.
	t2 := t0.Add(20*time.Minute + 500*time.Millisecond)
	p.Hash = "h-p2"
	res = record(t, db, t2, []store.SeenPost{p}, false)
	want := t2.Truncate(time.Second)
	if got := res.Edited["p"]; !got.Equal(want) {
		t.Errorf("Edited = %v, want p at %v", res.Edited, want)
	}
	if got := postState(t, db, "p").EditedAt; !got.Equal(want) {
		t.Errorf("EditedAt = %v, want %v", got, want)
	}
	// Seen again unchanged (another daemon, or a restart with the same
	// post passed again): the time stays, and is returned.
	res = record(t, db, t2.Add(time.Hour), []store.SeenPost{p}, false)
	if got := res.Edited["p"]; !got.Equal(want) {
		t.Errorf("unchanged: Edited = %v, want p at %v", res.Edited, want)
	}
	// The same in a large Record (a backend may read the times otherwise).
	many := append(makePosts(100, t0.Add(-48*time.Hour), true), p)
	res = record(t, db, t2.Add(90*time.Minute), many, false)
	if len(res.Edited) != 1 || !res.Edited["p"].Equal(want) {
		t.Errorf("large Record: Edited = %v, want only p at %v", res.Edited, want)
	}
	// Another change of something else than the content (the title in the
	// database, say) does not move it; a new edit does.
	p.Title = "New title"
	if res := record(t, db, t2.Add(2*time.Hour), []store.SeenPost{p}, false); !res.Edited["p"].Equal(want) {
		t.Errorf("title change: Edited = %v, want %v", res.Edited, want)
	}
	t3 := t2.Add(3 * time.Hour)
	p.Hash = "h-p3"
	if res := record(t, db, t3, []store.SeenPost{p}, false); !res.Edited["p"].Equal(t3.Truncate(time.Second)) {
		t.Errorf("second edit: Edited = %v, want %v", res.Edited, t3)
	}
}

// testOutcomeNotTried: a retry outcome marked NotTried gives back the
// attempt its claim counted and records no attempt.
func testOutcomeNotTried(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	setupDeliveries(t, db, 1)
	a := store.Lease{Owner: "host-a:10:aaaa", For: 2 * time.Minute}
	now := t0.Add(time.Minute)
	for i := range 3 {
		at := now.Add(time.Duration(i) * time.Minute)
		held := claimAs(t, db, at, a, 1)
		if len(held) != 1 || held[0].Attempts != 1 {
			t.Fatalf("claim %d = %+v, want one delivery at attempt 1", i, held)
		}
		recordAs(t, db, at, a.Owner, 1, store.Outcome{ID: held[0].ID, State: store.DeliveryRetry, Next: at.Add(time.Second),
			Text: "waiting: post p cannot be read", NotTried: true})
	}
	held := claimAs(t, db, now.Add(time.Hour), a, 1)
	if len(held) != 1 || held[0].Attempts != 1 {
		t.Fatalf("claim after put-offs = %+v, want attempt 1", held)
	}
	if got, err := db.AttemptsFor(ctx, held[0].SubscriberID, 0); err != nil || len(got) != 0 {
		t.Errorf("AttemptsFor = %+v, %v; want none recorded for put-offs", got, err)
	}
}

// testAnnouncementSnapshot: each announcement's snapshot comes back by the
// announcement's id before its mailing exists (and after), nil for one
// made without a snapshot; an unknown id is ErrNotFound.
func testAnnouncementSnapshot(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	record(t, db, t0.Add(-2*time.Hour), nil, false)
	record(t, db, t0, []store.SeenPost{
		withMail(post("a", t0.Add(-time.Hour), t0), "snap-a"),
		post("b", t0.Add(-30*time.Minute), t0), // no snapshot
	}, false)
	manual, created, err := db.Announce(ctx, t0, withMail(mailPost("c", t0.Add(-time.Minute)), "snap-c"))
	if err != nil || !created {
		t.Fatalf("Announce = %v, %v", created, err)
	}
	want := map[string]string{"a": "snap-a", "b": "", "c": "snap-c"}
	check := func(when string) {
		t.Helper()
		list := announcements(t, db)
		if len(list) != 3 {
			t.Fatalf("%s: Announcements = %+v", when, list)
		}
		for _, a := range list {
			got, err := db.AnnouncementSnapshot(ctx, a.ID)
			if err != nil {
				t.Fatalf("%s: AnnouncementSnapshot(%d): %v", when, a.ID, err)
			}
			if string(got) != want[a.PostID] || (want[a.PostID] == "") != (got == nil) {
				t.Errorf("%s: AnnouncementSnapshot of %s = %q, want %q", when, a.PostID, got, want[a.PostID])
			}
		}
	}
	check("before its mailing")
	if got, _ := db.AnnouncementSnapshot(ctx, manual.ID); string(got) != "snap-c" {
		t.Errorf("the manual announcement's snapshot = %q", got)
	}
	createMailings(t, db, t0, false)
	check("after its mailing")
	if _, err := db.AnnouncementSnapshot(ctx, manual.ID+100); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AnnouncementSnapshot of an unknown id: %v, want ErrNotFound", err)
	}
}
