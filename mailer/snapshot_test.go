package mailer

import (
	"strings"
	"testing"
	"time"

	"herald/mailer/smtptest"
	"herald/schedule/store"
)

// announceSnapshot records post id as newly due now, with the snapshot m
// takes of it (as the daemon does).
func (e *testEnv) announceSnapshot(t testing.TB, m *Mailer, id string) {
	t.Helper()
	p := e.posts.posts[id]
	snap, err := m.MailSnapshot(e.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.db.Record(e.ctx, e.clock.Now(), []store.SeenPost{{ID: id, Path: p.Path, Slug: p.Slug, Title: p.Title,
		URL: p.URL, Hash: "h" + id, Date: p.Date, Due: true, Mail: snap}}, false)
	if err != nil || len(res.Announced) != 1 || !res.Announced[0].Snapshot {
		t.Fatalf("Record = %+v, %v; want one announcement with its snapshot", res, err)
	}
}

// Deliveries of a mailing made from a snapshot do not need the post: the
// 451 retries go out while the post cannot be read (no wait, no failure),
// with the section as it was announced.
func TestSnapshotRetriesWithoutPost(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{Fail4xx: map[string]int{"sub000@example.com": 1, "sub001@example.com": 1}})
	subs := e.subscribe(t, "sub", 4, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	m := e.mailer(t, nil)
	m.backoff = func(int) time.Duration { return time.Minute }
	e.announceSnapshot(t, m, "p")
	e.hidePost("p") // gone before the mailing is even made
	if s := drain(t, m); s.Sent != 2 || s.Retried != 2 {
		t.Fatalf("first pass = %+v, want 2 sent, 2 retried", s)
	}
	e.clock.Advance(2 * time.Minute)
	if s := drain(t, m); s.Sent != 2 || s.Failed != 0 {
		t.Fatalf("retry pass = %+v, want the 2 retries sent", s)
	}
	e.exactlyOnce(t, subs)
	for _, msg := range e.srv.Messages() {
		if !strings.Contains(string(msg.Data), "TLDR of p") {
			t.Errorf("a message lacks the announced section")
		}
	}
	if stats, _ := e.db.DeliveryStats(e.ctx, 1); len(stats) != 1 || stats[0].WaitReason != "" {
		t.Errorf("stats = %+v, want no wait", stats)
	}
}

// The snapshot keeps the decision taken at announcement: a post with
// newsletter: false skips its mailing with the reason, even if the post
// is made mailable afterwards.
func TestSnapshotNewsletterFalseHolds(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	e.subscribe(t, "sub", 2, store.StatusConfirmed)
	e.addPost("quiet", workerT0, false)
	m := e.mailer(t, nil)
	e.clock.Advance(time.Minute)
	e.announceSnapshot(t, m, "quiet")
	e.posts.mu.Lock()
	e.posts.posts["quiet"].Newsletter = true
	e.posts.mu.Unlock()
	if s := drain(t, m); s.Sent != 0 {
		t.Errorf("summary = %+v, want nothing sent", s)
	}
	stats, _ := e.db.DeliveryStats(e.ctx, 5)
	if len(stats) != 1 || !strings.Contains(stats[0].Skipped, "newsletter: false") {
		t.Errorf("stats = %+v, want the mailing skipped: newsletter: false", stats)
	}
}
