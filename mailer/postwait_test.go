package mailer

import (
	"context"
	"strings"
	"testing"
	"time"

	"herald/mailer/smtptest"
	"herald/schedule/store"
)

// hidePost makes post id unreadable (its front matter broken, its file
// renamed) until the returned restore is called.
func (e *testEnv) hidePost(id string) (restore func()) {
	e.posts.mu.Lock()
	defer e.posts.mu.Unlock()
	p := e.posts.posts[id]
	delete(e.posts.posts, id)
	return func() {
		e.posts.mu.Lock()
		defer e.posts.mu.Unlock()
		e.posts.posts[id] = p
	}
}

// A post that cannot be read when its mailing is prepared does not lose its
// newsletter: the mailing waits (not skipped, not shown as mailed) and goes
// out once the post is back.
func TestUnreadablePostWaitsThenMailed(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	subs := e.subscribe(t, "sub", 5, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p")
	restore := e.hidePost("p")

	m := e.mailer(t, nil)
	if s := drain(t, m); s.Sent != 0 || s.Queued != 0 {
		t.Fatalf("summary while unreadable = %+v, want nothing sent or queued", s)
	}
	stats, err := e.db.DeliveryStats(e.ctx, 5)
	if err != nil || len(stats) != 1 || stats[0].Skipped != "" {
		t.Fatalf("stats = %+v, %v; want one mailing, not skipped", stats, err)
	}
	if ids, err := e.db.UnexpandedMailings(e.ctx); err != nil || len(ids) != 1 {
		t.Fatalf("unexpanded = %v, %v; want the mailing still waiting", ids, err)
	}
	// Within the backoff it is not looked at again.
	if m.waitDue(stats[0].MailingID) {
		t.Errorf("mailing due again at once; want a backoff")
	}
	restore()
	e.clock.Advance(17 * time.Second)
	if s := drain(t, m); s.Sent != 5 {
		t.Errorf("summary after the post is back = %+v, want 5 sent", s)
	}
	e.exactlyOnce(t, subs)
}

// A fresh `herald send` does not wait for the daemon's backoff.
func TestUnreadablePostSendCommandTriesAtOnce(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	subs := e.subscribe(t, "sub", 2, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p")
	restore := e.hidePost("p")
	drain(t, e.mailer(t, nil))
	restore()
	if s := drain(t, e.mailer(t, nil)); s.Sent != 2 {
		t.Errorf("summary = %+v, want 2 sent", s)
	}
	e.exactlyOnce(t, subs)
}

// Deliveries waiting to be retried are not failed because the post was
// unreadable during one retry pass; they go out once it is fixed.
func TestUnreadablePostDuringRetryDoesNotFail(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{Fail4xx: map[string]int{"sub000@example.com": 1, "sub001@example.com": 1}})
	subs := e.subscribe(t, "sub", 3, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p")
	m := e.mailer(t, nil)
	m.backoff = func(int) time.Duration { return time.Minute }
	if s := drain(t, m); s.Sent != 1 || s.Retried != 2 {
		t.Fatalf("first pass = %+v, want 1 sent, 2 retried", s)
	}
	restore := e.hidePost("p")
	e.clock.Advance(2 * time.Minute)
	if s := drain(t, m); s.Failed != 0 || s.Sent != 0 {
		t.Fatalf("pass while unreadable = %+v, want nothing failed or sent", s)
	}
	if c := e.counts(t); c.Failed != 0 {
		t.Fatalf("counts = %+v, want none failed", c)
	}
	restore()
	e.clock.Advance(70 * time.Second)
	if s := drain(t, m); s.Sent != 2 || s.Failed != 0 {
		t.Errorf("pass after the fix = %+v, want 2 sent", s)
	}
	e.exactlyOnce(t, subs)
}

// A post gone for longer than mail.retry_for is skipped, with the reason.
func TestUnreadablePostSkippedAfterRetryFor(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	e.subscribe(t, "sub", 2, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p")
	e.hidePost("p")
	m := e.mailer(t, nil)
	drain(t, m)
	e.clock.Advance(73 * time.Hour)
	drain(t, m)
	stats, err := e.db.DeliveryStats(e.ctx, 5)
	if err != nil || len(stats) != 1 || !strings.Contains(stats[0].Skipped, "no longer exists") {
		t.Errorf("stats = %+v, %v; want the mailing skipped: no longer exists", stats, err)
	}
}

// The daemon looks again at a mailing waiting for its post when the
// backoff ends, without a Wake (not only at the next idle re-check).
func TestRunRetriesUnreadablePostWithoutWake(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	subs := e.subscribe(t, "sub", 3, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p")
	restore := e.hidePost("p")
	m := e.mailer(t, nil)
	m.idleRecheck = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if !waitFor(t, "the mailing to wait", func() bool { _, ok := m.nextWait(); return ok }, 5*time.Second) {
		t.Fatal("the mailing never waited for its post")
	}
	restore()
	// Run sleeps until the mailing's backoff ends (seconds), far sooner
	// than its idle re-check (an hour) or a lease (2 minutes): the clock
	// moves a second at a time, up to 30 s, and the mail must go out.
	for step := 0; e.srv.Delivered() < 3; step++ {
		if step == 30 {
			t.Fatalf("delivered %d 30 s after the post came back, want 3", e.srv.Delivered())
		}
		e.clock.Advance(time.Second)
		waitFor(t, "delivery", func() bool { return e.srv.Delivered() == 3 }, 50*time.Millisecond)
	}
	e.exactlyOnce(t, subs)
}

// Deliveries put off because their mailing's post cannot be read count no
// attempt: many such passes (more than mail.max_attempts) fail none of
// them, record no attempt, and the mailing says why it waits and when it
// is looked at next, until the post is back.
func TestUnreadablePostPutOffCountsNoAttempt(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{Fail4xx: map[string]int{"sub000@example.com": 1, "sub001@example.com": 1}})
	e.cfg.MaxAttempts = 3
	subs := e.subscribe(t, "sub", 3, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p")
	m := e.mailer(t, nil)
	m.backoff = func(int) time.Duration { return time.Second }
	if s := drain(t, m); s.Sent != 1 || s.Retried != 2 {
		t.Fatalf("first pass = %+v, want 1 sent, 2 retried", s)
	}
	restore := e.hidePost("p")
	for range 8 {
		e.clock.Advance(10 * time.Minute) // past any backoff
		if s := drain(t, m); s.Failed != 0 || s.Sent != 0 {
			t.Fatalf("pass while unreadable = %+v, want nothing failed or sent", s)
		}
	}
	stats, err := e.db.DeliveryStats(e.ctx, 1)
	if err != nil || len(stats) != 1 {
		t.Fatalf("stats = %+v, %v", stats, err)
	}
	if !strings.Contains(stats[0].WaitReason, "cannot be read") || !stats[0].WaitUntil.After(e.clock.Now()) {
		t.Errorf("mailing wait = %q until %v (now %v); want why it waits and a next try to come", stats[0].WaitReason, stats[0].WaitUntil, e.clock.Now())
	}
	for _, addr := range []string{"sub000@example.com", "sub001@example.com"} {
		s, err := e.db.Subscriber(e.ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := e.db.AttemptsFor(e.ctx, s.ID, 0); err != nil || len(got) != 1 || got[0].Code != 451 {
			t.Errorf("%s: attempts = %+v, %v; want only the 451", addr, got, err)
		}
	}
	restore()
	e.clock.Advance(10 * time.Minute)
	if s := drain(t, m); s.Sent != 2 || s.Failed != 0 {
		t.Errorf("pass after the fix = %+v, want 2 sent", s)
	}
	if stats, _ := e.db.DeliveryStats(e.ctx, 1); len(stats) != 1 || stats[0].WaitReason != "" {
		t.Errorf("stats after the fix = %+v, want no wait", stats)
	}
	e.exactlyOnce(t, subs)
}
