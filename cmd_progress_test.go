package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"herald/mailer"
)

// screen is what a terminal shows after out: "\r" returns to the start of
// the line, "\x1b[K" erases to its end, "\n" starts a new line, any other
// character overwrites the one under the cursor.
func screen(out string) []string {
	lines := [][]rune{nil}
	col := 0
	for i := 0; i < len(out); {
		switch {
		case strings.HasPrefix(out[i:], "\x1b[K"):
			cur := &lines[len(lines)-1]
			*cur = (*cur)[:min(col, len(*cur))]
			i += 3
			continue
		case out[i] == '\r':
			col = 0
		case out[i] == '\n':
			lines = append(lines, nil)
			col = 0
		default:
			r := []rune(out[i : i+1])[0]
			cur := &lines[len(lines)-1]
			if col < len(*cur) {
				(*cur)[col] = r
			} else {
				*cur = append(*cur, r)
			}
			col++
		}
		i++
	}
	var s []string
	for _, l := range lines {
		s = append(s, string(l))
	}
	return s
}

// TestProgressBarAndLogs: log lines written while the bar is shown appear
// whole above it (never overwritten by it, never overwriting it), and the
// bar of a finished send ends at 100 %.
func TestProgressBarAndLogs(t *testing.T) {
	var term bytes.Buffer
	bar := &statusLine{w: &term}
	log := slog.New(slog.NewTextHandler(bar, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	log.Info("before the bar")
	bar.Draw(progressLine(mailer.PostCounts{Total: 10, Sent: 3}, 3*time.Second, false))
	log.Warn("temporary failure, will retry", "to", "a@example.org")
	bar.Draw(progressLine(mailer.PostCounts{Total: 10, Sent: 6, Retried: 1}, 6*time.Second, false))
	log.Info("mail pass done", "sent", 9)
	// Finished: 9 sent and 1 retry scheduled for later: all that was due.
	final := progressLine(mailer.PostCounts{Total: 10, Sent: 9}, 9*time.Second, true)
	bar.End(final)
	log.Info("after the bar")

	got := screen(term.String())
	want := []string{
		`level=INFO msg="before the bar"`,
		`level=WARN msg="temporary failure, will retry" to=a@example.org`,
		`level=INFO msg="mail pass done" sent=9`,
		final,
		`level=INFO msg="after the bar"`,
		"",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the terminal shows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(final, "[##############################] 100%") || !strings.Contains(final, "9/9") {
		t.Errorf("the finished bar is not full: %q", final)
	}
}

// TestProgressLine: the bar's fill, percentage, counts, rate and ETA.
func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		c        mailer.PostCounts
		el       time.Duration
		finished bool
		want     string
	}{
		{mailer.PostCounts{Total: 10}, 0, false, "[..............................]   0%  0/10  sent 0, failed 0, retry later 0  0 msg/s  ETA ?"},
		{mailer.PostCounts{Total: 10, Sent: 4, Failed: 1}, 5 * time.Second, false, "[###############...............]  50%  5/10  sent 4, failed 1, retry later 0  1 msg/s  ETA 5s"},
		{mailer.PostCounts{Total: 10, Sent: 4, Retried: 1}, 5 * time.Second, true, "[##############################] 100%  5/5  sent 4, failed 0, retry later 1  1 msg/s  ETA 0s"},
		{mailer.PostCounts{}, time.Second, true, "[##############################] 100%  0/0  sent 0, failed 0, retry later 0  0 msg/s  ETA 0s"},
		// An interrupted send is not shown full.
		{mailer.PostCounts{Total: 8, Sent: 2}, 2 * time.Second, false, "[#######.......................]  25%  2/8  sent 2, failed 0, retry later 0  1 msg/s  ETA 6s"},
	} {
		if got := progressLine(tc.c, tc.el, tc.finished); got != tc.want {
			t.Errorf("progressLine(%+v, %v, %v) =\n%q\nwant\n%q", tc.c, tc.el, tc.finished, got, tc.want)
		}
	}
}
