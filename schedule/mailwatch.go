package schedule

import (
	"encoding/json"
	"fmt"
	"time"
)

// DefaultMailGrace is the default schedule.mail_grace.
const DefaultMailGrace = 10 * time.Minute

// MetaMailPaused is the meta key where the mail worker keeps its pause as
// JSON ({"since", "reason", "next"}; "" while it sends), for `herald
// status` in another process. The mailer writes it (mailer.MetaMailPaused
// is the same key).
const MetaMailPaused = "mail_paused"

// MailPause is why the newsletter worker is not sending: the mail server
// cannot be reached (connection, TLS or AUTH refused) or the ledger cannot
// be written. The daemon learns it from Options.MailPaused.
type MailPause struct {
	Since  time.Time `json:"since"`
	Reason string    `json:"reason"`
	Next   time.Time `json:"next"` // the next try at the latest
}

// readMailPause decodes MetaMailPaused's value (false for "").
func readMailPause(v string) (MailPause, bool) {
	var p MailPause
	if v == "" || json.Unmarshal([]byte(v), &p) != nil || p.Since.IsZero() {
		return MailPause{}, false
	}
	return p, true
}

// mailPausedText is "mail paused since 12:00 UTC (3m): reason, next try at
// 12:04 UTC".
func mailPausedText(now time.Time, p MailPause, loc *time.Location) string {
	const layout = "2006-01-02 15:04:05 MST"
	return fmt.Sprintf("mail paused since %s (%s): %s, next try at %s",
		p.Since.In(loc).Format(layout), roundDuration(now.Sub(p.Since)), p.Reason, p.Next.In(loc).Format(layout))
}

// mailPause returns the worker's pause, and whether it has lasted longer
// than schedule.mail_grace at now.
func (d *Daemon) mailPause(now time.Time) (p MailPause, paused, overdue bool) {
	if d.opts.MailPaused == nil {
		return MailPause{}, false, false
	}
	p, paused = d.opts.MailPaused()
	return p, paused, paused && now.Sub(p.Since) > d.opts.Schedule.MailGrace.Duration
}
