package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"herald/mailer"
)

// statusLine keeps one line, the progress bar of `herald send`, at the
// bottom of a terminal. Whatever else is written through it (the log
// lines) goes above the bar: the bar is cleared, the text written, and the
// bar drawn again below it, so a log line never overwrites the bar nor the
// bar a log line.
type statusLine struct {
	mu   sync.Mutex
	w    io.Writer
	line string // the bar as drawn; "" when none is shown
}

// clearLine returns the cursor to the start of the line and erases it.
const clearLine = "\r\x1b[K"

// Write writes p (whole log lines) above the bar.
func (s *statusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.line == "" {
		return s.w.Write(p)
	}
	var b bytes.Buffer
	b.WriteString(clearLine)
	b.Write(p)
	if len(p) > 0 && p[len(p)-1] != '\n' {
		b.WriteByte('\n')
	}
	b.WriteString(s.line)
	if _, err := s.w.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Draw shows line as the bar, in place of the previous one.
func (s *statusLine) Draw(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.line = line
	io.WriteString(s.w, clearLine+line)
}

// End draws line one last time and leaves it on the screen: later writes
// go below it.
func (s *statusLine) End(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.line = ""
	io.WriteString(s.w, clearLine+line+"\n")
}

// progressLine is the bar for a post's counts after elapsed; finished: the
// send went through everything that was due, so the bar is full (the
// deliveries left are retries not due yet, which the summary names).
func progressLine(c mailer.PostCounts, elapsed time.Duration, finished bool) string {
	done, total := c.Done(), c.Total
	if finished || total < done {
		total = done
	}
	pct := int64(100)
	if total > 0 {
		pct = done * 100 / total
	}
	const width = 30
	filled := int(pct * width / 100)
	rate := mailer.Rate(done, elapsed)
	return fmt.Sprintf("[%s%s] %3d%%  %d/%d  sent %d, failed %d, retry later %d  %.0f msg/s  ETA %s",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), pct, done, total,
		c.Sent, c.Failed, c.Retried, rate, mailer.ETA(total-done, rate))
}
