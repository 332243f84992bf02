package mailer

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"herald/mailer/smtptest"
	"herald/schedule/store"
)

// gatedTransport sends one message per token taken from allow: the test
// decides how far a pass gets before it moves the clock.
type gatedTransport struct {
	Transport
	allow chan struct{}
}

func (g gatedTransport) Open(ctx context.Context) (Conn, error) {
	c, err := g.Transport.Open(ctx)
	if err != nil {
		return nil, err
	}
	return gatedConn{c, g.allow}, nil
}

type gatedConn struct {
	Conn
	allow chan struct{}
}

func (c gatedConn) Send(ctx context.Context, m *Message) error {
	select {
	case <-c.allow:
	case <-ctx.Done():
		return ctx.Err()
	}
	return c.Conn.Send(ctx, m)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestProgressLogEvery10s: a long pass logs its progress every 10 s of the
// injected clock (not of the wall clock), also while it is stalled: the
// post's sent/total, the rate and the ETA; the counts of DrainPost are the
// post's alone, though the pass also sends another post's due deliveries.
func TestProgressLogEvery10s(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	e.cfg.SMTP.Concurrency = 1
	e.subscribe(t, "sub", 10, store.StatusConfirmed)
	e.addPost("other", workerT0.Add(-2*time.Hour), true)
	e.announce(t, "other")
	e.addPost("p", workerT0.Add(-time.Hour), true)
	e.announce(t, "p")
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	allow := make(chan struct{})
	m := e.mailer(t, func(o *Options) {
		o.Logger = log
		o.Transport = gatedTransport{o.Transport, allow}
	})
	type result struct {
		s   Summary
		err error
	}
	res := make(chan result, 1)
	go func() {
		s, err := m.DrainPost(e.ctx, "p")
		res <- result{s, err}
	}()
	progress := func() []string {
		var lines []string
		for line := range strings.SplitSeq(logs.String(), "\n") {
			if strings.Contains(line, `msg="mail progress"`) {
				lines = append(lines, line)
			}
		}
		return lines
	}
	// send lets n more messages go and waits until they are recorded.
	sent := int64(0)
	send := func(n int) {
		for range n {
			allow <- struct{}{}
		}
		sent += int64(n)
		deadline := time.Now().Add(10 * time.Second)
		for m.Progress().Sent < sent {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d sends recorded", m.Progress().Sent, sent)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// tick moves the clock 10 s and waits for progress line n.
	tick := func(n int) string {
		e.clock.Advance(10 * time.Second)
		deadline := time.Now().Add(10 * time.Second)
		for len(progress()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("no progress line %d after 10 s more of the clock:\n%s", n, logs.String())
			}
			time.Sleep(time.Millisecond)
		}
		return progress()[n-1]
	}
	// The other post, announced first, is sent first: p's 10 are sends
	// 11-20.
	send(4)
	if n := len(progress()); n != 0 {
		t.Errorf("%d progress lines before 10 s of the clock passed", n)
	}
	steps := []struct {
		send int
		want string
	}{
		{0, "post=p sent=0 failed=0 retry_later=0 total=10 msgs_per_s=0.4 eta=25s"}, // 10 s: 4 sends
		{8, "post=p sent=2 failed=0 retry_later=0 total=10 msgs_per_s=0.6 eta=13s"}, // 20 s: 12 sends
		{0, "post=p sent=2 failed=0 retry_later=0 total=10 msgs_per_s=0.4 eta=20s"}, // 30 s: stalled, still logged
		{6, "post=p sent=8 failed=0 retry_later=0 total=10 msgs_per_s=0.5 eta=4s"},  // 40 s: 18 sends
	}
	for i, st := range steps {
		send(st.send)
		if got := tick(i + 1); !strings.Contains(got, st.want) {
			t.Errorf("progress line %d = %s\nwant it to contain %s", i+1, got, st.want)
		}
	}
	send(2)
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.s.Sent != 20 || r.s.Post != (PostCounts{Total: 10, Sent: 10, Waiting: 0}) {
		t.Errorf("summary = %+v, want 20 sent in all and the post's 10 of 10 apart", r.s)
	}
	// The pass is over: no more progress lines.
	e.clock.Advance(time.Minute)
	time.Sleep(20 * time.Millisecond)
	if n := len(progress()); n != len(steps) {
		t.Errorf("%d progress lines after the pass ended, want %d", n, len(steps))
	}
}

// TestProgressLogOff: ProgressEvery < 0 (herald send on a terminal) logs
// no progress lines.
func TestProgressLogOff(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	e.cfg.SMTP.Concurrency = 1
	e.subscribe(t, "sub", 6, store.StatusConfirmed)
	e.addPost("p", workerT0.Add(-time.Hour), true)
	e.announce(t, "p")
	var logs lockedBuffer
	m := e.mailer(t, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		o.ProgressEvery = -1
	})
	e.clock.Advance(time.Minute) // no timer armed: nothing fires
	if _, err := m.DrainPost(e.ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if n := e.clock.Timers(); n != 0 {
		t.Errorf("%d timers left armed after the pass", n)
	}
	if strings.Contains(logs.String(), "mail progress") {
		t.Errorf("progress logged with ProgressEvery < 0:\n%s", logs.String())
	}
}

// TestRateETA: the rate and ETA of a pass.
func TestRateETA(t *testing.T) {
	if r := Rate(4, 12*time.Second); r < 0.333 || r > 0.334 {
		t.Errorf("Rate(4, 12s) = %v", r)
	}
	if r := Rate(0, time.Second); r != 0 {
		t.Errorf("Rate(0, 1s) = %v", r)
	}
	if r := Rate(5, 0); r != 0 {
		t.Errorf("Rate(5, 0) = %v", r)
	}
	for _, tc := range []struct {
		left int64
		rate float64
		want string
	}{{6, 1.0 / 3, "18s"}, {0, 0, "0s"}, {-2, 1, "0s"}, {5, 0, "?"}, {90, 1, "1m30s"}} {
		if got := ETA(tc.left, tc.rate); got != tc.want {
			t.Errorf("ETA(%d, %v) = %q, want %q", tc.left, tc.rate, got, tc.want)
		}
	}
}
