package mailer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"herald/feed"
	"herald/mailer/smtptest"
	"herald/schedule/store"
)

// A post with no TLDR section, no description and no paragraph (a body
// that is only a list) is decided once, through the real loader: its
// mailing is skipped with a clear reason, not retried every pass.
func TestPostWithoutSectionSkippedOnce(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	e.subscribe(t, "sub", 2, store.StatusConfirmed)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "2024-06-01-list.md"), []byte("---\ntitle: Only a list\n---\n- one\n- two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	site := testSite()
	site.Permalink = feed.DefaultSite().Permalink
	if err := site.Validate(); err != nil {
		t.Fatal(err)
	}
	l := feed.NewLoader(site, dir, nil)
	snap, err := l.Scan(e.ctx)
	if err != nil || len(snap.Posts) != 1 {
		t.Fatalf("Scan: %v, %v", snap, err)
	}
	p := snap.Posts[0]
	e.clock.Advance(time.Minute)
	if _, err := e.db.Record(e.ctx, e.clock.Now(), []store.SeenPost{{ID: p.ID, Path: p.Path, Slug: p.Slug, Title: p.Title, URL: p.URL, Hash: "h", Date: workerT0, Due: true}}, false); err != nil {
		t.Fatal(err)
	}
	m := e.mailer(t, func(o *Options) { o.Posts = l })
	if s := drain(t, m); s.Queued != 0 || s.Sent != 0 {
		t.Errorf("summary = %+v, want nothing queued", s)
	}
	if ids, err := e.db.UnexpandedMailings(context.Background()); err != nil || len(ids) != 0 {
		t.Errorf("unexpanded mailings = %v, %v; want none (decided once)", ids, err)
	}
	stats, err := e.db.DeliveryStats(e.ctx, 5)
	if err != nil || len(stats) != 1 || !strings.Contains(stats[0].Skipped, "nothing to mail in "+p.Path) {
		t.Errorf("stats = %+v, %v; want the mailing skipped: nothing to mail", stats, err)
	}
	if e.srv.Delivered() != 0 {
		t.Errorf("delivered %d", e.srv.Delivered())
	}
}
