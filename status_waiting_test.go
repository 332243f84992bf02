package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"herald/schedule/store"
	"herald/schedule/store/sqlite"
)

// TestStatusShowsMailingWaitingForUnreadablePost: a mailing whose post
// cannot be read now (front matter broken while it was queued) is shown as
// waiting, with the reason, not as an empty mailing; once the post is fixed
// the note goes away.
func TestStatusShowsMailingWaitingForUnreadablePost(t *testing.T) {
	const slug = "sqlite-is-enough-for-a-small-blog"
	const file = "posts/2023-08-19-sqlite-is-enough-for-a-small-blog.md"
	// The post's ID, as the mailer records it.
	e1 := newEnv(t, "")
	mustRun(t, e1, "subscribers", "add", "a@example.org")
	mustRun(t, e1, "send", slug)
	db1, err := sqlite.Open(context.Background(), e1.path("var/herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	stats, err := db1.DeliveryStats(context.Background(), 1)
	db1.Close()
	if err != nil || len(stats) != 1 || len(stats[0].Posts) != 1 {
		t.Fatalf("stats = %+v, %v", stats, err)
	}
	mp := stats[0].Posts[0]

	e := newEnv(t, "")
	mustRun(t, e, "subscribers", "add", "a@example.org", "b@example.org")
	ctx := context.Background()
	db, err := sqlite.Open(ctx, e.path("var/herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if _, err := db.Record(ctx, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Record(ctx, now, []store.SeenPost{{ID: mp.PostID, Path: mp.Path, Slug: slug, Title: mp.Title, URL: mp.URL, Hash: "h", Date: now.Add(-time.Hour), Due: true}}, false); err != nil {
		t.Fatal(err)
	}
	if ids, err := db.CreateMailings(ctx, now, false); err != nil || len(ids) != 1 {
		t.Fatalf("CreateMailings = %v, %v", ids, err)
	}
	db.Close()

	good, err := os.ReadFile(e.path(file))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.path(file), []byte("---\ntitle: [unclosed\n---\nBody.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, e, "status")
	if !strings.Contains(r.stdout, "waiting: post "+mp.Path+" cannot be read") {
		t.Errorf("status does not say the mailing waits for its unreadable post:\n%s", r.stdout)
	}
	if err := os.WriteFile(e.path(file), good, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := mustRun(t, e, "status"); strings.Contains(r.stdout, "waiting: post") {
		t.Errorf("status still says waiting after the post is fixed:\n%s", r.stdout)
	}
}
