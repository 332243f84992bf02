package feed

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"herald/feed/testkit"
)

// fakeClock is testkit.Clock as a feed.Clock.
type fakeClock struct{ *testkit.Clock }

func (c fakeClock) NewTimer(d time.Duration) Timer { return c.Clock.NewTimer(d) }

// The scan's "recent mtime" rule (racyWindow) compares a file's mtime with
// the injected clock, not with the machine's.
func TestScanRacyWindowFollowsClock(t *testing.T) {
	mtime := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name  string
		now   time.Time
		reads int64 // after two scans
	}{
		{"mtime one second before now: read again", mtime.Add(time.Second), 2},
		{"mtime an hour before now: trusted", mtime.Add(time.Hour), 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "2024-01-01-a.md", post("A", "a\n"), mtime)
			l := NewLoaderWith(loaderSite(t, "UTC", ""), dir, LoaderOptions{Clock: fakeClock{testkit.NewClock(tt.now)}})
			scan(t, l)
			scan(t, l)
			if got := l.reads.Load(); got != tt.reads {
				t.Errorf("%d reads after two scans, want %d", got, tt.reads)
			}
		})
	}
}

// posts.render_timeout runs on the injected clock: a rendering is cut off
// when that clock passes the deadline, however long it really takes.
func TestRenderTimeoutFollowsClock(t *testing.T) {
	dir := t.TempDir()
	// A second or so of goldmark: 600 lists nested 64 deep.
	var slow strings.Builder
	for range 600 {
		for i := range 64 {
			slow.WriteString(strings.Repeat("  ", i))
			slow.WriteString("- x\n")
		}
		slow.WriteString("\nend\n\n")
	}
	writeFile(t, dir, "2024-01-02-slow.md", post("Slow", slow.String()), oldTime)
	clock := testkit.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	l := NewLoaderWith(loaderSite(t, "UTC", ""), dir, LoaderOptions{Clock: fakeClock{clock}})
	l.SetLimits(&PostsConfig{RenderTimeout: Duration{time.Hour}})
	snap := scan(t, l)
	done := make(chan error, 1)
	go func() {
		_, err := l.Render(context.Background(), snap.Posts[0])
		done <- err
	}()
	for clock.Timers() == 0 { // the deadline's timer is armed
		select {
		case err := <-done:
			t.Fatalf("Render returned %v before the clock reached the deadline", err)
		case <-time.After(time.Millisecond):
		}
	}
	clock.Advance(time.Hour)
	if err := <-done; !errors.Is(err, ErrRenderTimeout) {
		t.Fatalf("Render = %v, want ErrRenderTimeout once the clock passed the deadline", err)
	}
	// The rendering went on: once it is done, Render returns it.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := l.Render(context.Background(), snap.Posts[0])
		if err == nil {
			break
		}
		if !errors.Is(err, ErrRenderTimeout) || time.Now().After(deadline) {
			t.Fatalf("Render = %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
