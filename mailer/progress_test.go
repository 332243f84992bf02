package mailer

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"herald/feed/testkit"
	"herald/mailer/smtptest"
	"herald/schedule/store"
)

// tickingTransport moves the test clock by step on every send: a pass of
// n sends takes n×step of the Mailer's time.
type tickingTransport struct {
	Transport
	clock *testkit.Clock
	step  time.Duration
}

func (tt tickingTransport) Open(ctx context.Context) (Conn, error) {
	c, err := tt.Transport.Open(ctx)
	if err != nil {
		return nil, err
	}
	return tickingConn{c, tt.clock, tt.step}, nil
}

type tickingConn struct {
	Conn
	clock *testkit.Clock
	step  time.Duration
}

func (c tickingConn) Send(ctx context.Context, m *Message) error {
	c.clock.Advance(c.step)
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
// injected clock (not of the wall clock): the post's sent/total, rate and
// ETA; the counts of DrainPost are the post's alone, though the pass also
// sends another post's due deliveries.
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
	m := e.mailer(t, func(o *Options) {
		o.Logger = log
		o.Transport = tickingTransport{o.Transport, e.clock, 3 * time.Second}
	})
	s, err := m.DrainPost(e.ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if s.Sent != 20 || s.Post != (PostCounts{Total: 10, Sent: 10, Waiting: 0}) {
		t.Errorf("summary = %+v, want 20 sent in all and the post's 10 of 10 apart", s)
	}
	var lines []string
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, `msg="mail progress"`) {
			lines = append(lines, line)
		}
	}
	// 20 sends of 3 s: a line at 12 s, 24 s, 36 s, 48 s and 60 s. The
	// other post, announced first, is sent first: p's 10 are sends 11-20.
	want := []string{
		"post=p sent=0 failed=0 retry_later=0 total=10 msgs_per_s=0.3 eta=30s", // 12 s: 4 sends
		"post=p sent=0 failed=0 retry_later=0 total=10 msgs_per_s=0.3 eta=30s", // 24 s: 8 sends
		"post=p sent=2 failed=0 retry_later=0 total=10 msgs_per_s=0.3 eta=24s", // 36 s: 12 sends
		"post=p sent=6 failed=0 retry_later=0 total=10 msgs_per_s=0.3 eta=12s", // 48 s: 16 sends
		"post=p sent=10 failed=0 retry_later=0 total=10 msgs_per_s=0.3 eta=0s", // 60 s: 20 sends
	}
	if len(lines) != len(want) {
		t.Fatalf("%d progress lines, want %d (every 10 s of a 60 s pass):\n%s", len(lines), len(want), logs.String())
	}
	for i := range want {
		if !strings.Contains(lines[i], want[i]) {
			t.Errorf("progress line %d = %s\nwant it to contain %s", i, lines[i], want[i])
		}
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
		o.Transport = tickingTransport{o.Transport, e.clock, 5 * time.Second}
		o.ProgressEvery = -1
	})
	if _, err := m.DrainPost(e.ctx, "p"); err != nil {
		t.Fatal(err)
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
