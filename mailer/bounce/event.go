package bounce

import (
	"strings"
	"time"
)

// Type is what an event means for the address it is about.
type Type string

// Event types.
const (
	Hard      Type = "hard"      // permanent failure (5.x.x): suppress at once
	Soft      Type = "soft"      // transient failure (4.x.x): count towards the soft limit
	Complaint Type = "complaint" // the recipient reported the mail as spam: unsubscribe
	AutoReply Type = "autoreply" // vacation or other automatic reply: recorded, never counted
	Other     Type = "other"     // recognised but changes nothing (a delay notice, a delivery report)
)

// Sources: where an event came from.
const (
	SourceDSN       = "dsn"       // an RFC 3464 delivery status notification
	SourceARF       = "arf"       // an RFC 5965 feedback report
	SourceHeuristic = "heuristic" // a non-standard bounce text, matched by its VERP address
	SourceAutoReply = "autoreply" // an automatic reply
	SourceSES       = "ses"       // Amazon SES through SNS
	SourcePostmark  = "postmark"
	SourceMailgun   = "mailgun"
	SourceSendGrid  = "sendgrid"
)

// Event is one fact about one recipient.
type Event struct {
	Type   Type
	Source string // one of the Source constants
	// Recipient is the address the event is about, as the report gives it
	// (domain lowercased); "" when the report does not say (an auto-reply, a
	// non-standard bounce: the VERP tag says who).
	Recipient string
	Action    string // DSN action: failed, delayed, delivered…; or the provider's event name
	Status    string // enhanced status code, "5.1.1"; "" when unknown
	// Diagnostic is the remote server's reply or the provider's
	// description, one line, at most 1000 bytes.
	Diagnostic string
	// MessageID is the Message-ID of the original message (without <>),
	// when the report carries it.
	MessageID string
	At        time.Time // when the provider says it happened; zero for mail
}

// classify maps an enhanced status code's class to Hard or Soft: 5 is
// permanent, 4 (and anything unknown) transient.
func classify(status string) Type {
	if len(status) > 0 && status[0] == '5' {
		return Hard
	}
	return Soft
}

// oneLine folds s to one line of at most 1000 bytes.
func oneLine(s string) string {
	b := make([]byte, 0, len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' || c == '\t' || c == ' ' {
			space = true
			continue
		}
		if c < 0x20 || c == 0x7f {
			continue
		}
		if space && len(b) > 0 {
			b = append(b, ' ')
		}
		space = false
		b = append(b, c)
	}
	if len(b) > 1000 {
		b = b[:1000]
	}
	return strings.ToValidUTF8(string(b), "")
}
