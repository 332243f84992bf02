package bounce

import (
	"net/mail"
	"regexp"
	"strings"
)

// bounceSenders are local parts that MTAs send bounces from.
var bounceSenders = []string{"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"}

// bounceSubjects are subject fragments (lowercase) of the common
// non-standard bounce formats: Exchange ("Undeliverable:"), Gmail
// ("Delivery Status Notification (Failure)"), qmail ("failure notice"),
// Exim ("Mail delivery failed"), sendmail ("Returned mail:"), Postfix.
var bounceSubjects = []string{
	"undeliverable", "undelivered mail", "delivery status notification",
	"failure notice", "mail delivery failed", "returned mail", "delivery failure",
	"non remis", "unzustellbar", "nicht zustellbar", "delivery has failed",
	"mail delivery failure", "message not delivered",
}

// looksLikeBounce reports whether a message's headers say it is a bounce
// from an MTA (by its sender or subject).
func looksLikeBounce(h mail.Header) bool {
	if a, err := mail.ParseAddress(h.Get("From")); err == nil {
		local, _, _ := splitAddr(strings.ToLower(a.Address))
		for _, s := range bounceSenders {
			if local == s {
				return true
			}
		}
		n := strings.ToLower(a.Name)
		if strings.Contains(n, "mail delivery") || strings.Contains(n, "mailer-daemon") {
			return true
		}
	}
	subj := strings.ToLower(decodeHeader(h.Get("Subject")))
	for _, s := range bounceSubjects {
		if strings.Contains(subj, s) {
			return true
		}
	}
	return false
}

var (
	reStatus = regexp.MustCompile(`(?:^|[^0-9.])([245])\.([0-9]{1,3})\.([0-9]{1,3})(?:[^0-9.]|$)`)
	reReply  = regexp.MustCompile(`(?m)(?:^|[^0-9])([45][0-9][0-9])[ -][^\n]*`)
	// qmail says which kind it is in words; so do Exim and many others.
	rePermanentWords = regexp.MustCompile(`(?i)permanent (?:error|failure)|i've given up|does not exist|no such user|user unknown|unknown user|no mailbox|recipient not found|address rejected|mailbox unavailable|recipnotfound|account that you tried to reach (?:does not exist|is disabled)`)
	reTemporaryWords = regexp.MustCompile(`(?i)temporary (?:error|failure)|will (?:keep|continue) trying|mailbox (?:is )?full|over quota|quota exceeded|try again later|delayed`)
)

// heuristic classifies the text of a non-standard bounce: the first
// enhanced status code decides, else the first SMTP reply code, else the
// words; with nothing to go on it is a soft bounce (a guess must never
// suppress an address at once).
func heuristic(text []byte) Event {
	ev := Event{Source: SourceHeuristic, Action: "failed"}
	s := string(text)
	if m := reStatus.FindStringSubmatchIndex(s); m != nil {
		ev.Status = s[m[2]:m[3]] + "." + s[m[4]:m[5]] + "." + s[m[6]:m[7]]
		ev.Diagnostic = oneLine(lineAround(s, m[2]))
		if ev.Status[0] == '2' {
			ev.Type = Other
			return ev
		}
		ev.Type = classify(ev.Status)
		return ev
	}
	if m := reReply.FindStringSubmatchIndex(s); m != nil {
		ev.Diagnostic = oneLine(s[m[2]:m[1]])
		ev.Type = classify(s[m[2]:m[3]])
		return ev
	}
	switch {
	case reTemporaryWords.MatchString(s):
		ev.Type = Soft
		ev.Diagnostic = oneLine(lineAround(s, reTemporaryWords.FindStringIndex(s)[0]))
	case rePermanentWords.MatchString(s):
		ev.Type = Hard
		ev.Diagnostic = oneLine(lineAround(s, rePermanentWords.FindStringIndex(s)[0]))
	default:
		ev.Type = Soft
		ev.Diagnostic = "unrecognised bounce text"
	}
	return ev
}

// lineAround returns the line of s holding byte i.
func lineAround(s string, i int) string {
	start := strings.LastIndexByte(s[:i], '\n') + 1
	end := strings.IndexByte(s[i:], '\n')
	if end < 0 {
		return s[start:]
	}
	return s[start : i+end]
}

// vacationSubjects are subject fragments (lowercase) of automatic replies.
var vacationSubjects = []string{
	"out of office", "out of the office", "automatic reply", "auto reply", "autoreply",
	"auto-reply", "auto response", "autoresponse", "vacation", "away from", "on leave",
	"abwesenheit", "automatische antwort", "réponse automatique", "absence", "respuesta automática",
	"risposta automatica", "fuera de la oficina",
}

// isAutoReply reports whether a message (that is no DSN) is an automatic
// reply: Auto-Submitted other than "no" (RFC 3834), X-Autoreply,
// X-Autorespond, Precedence: auto_reply, or a vacation subject.
func isAutoReply(h mail.Header, subject string) bool {
	if as := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); as != "" && !strings.HasPrefix(as, "no") {
		return true
	}
	if h.Get("X-Autoreply") != "" || h.Get("X-Autorespond") != "" || h.Get("X-Autoresponder") != "" {
		return true
	}
	if p := strings.ToLower(strings.TrimSpace(h.Get("Precedence"))); p == "auto_reply" {
		return true
	}
	subj := strings.ToLower(subject)
	if strings.HasPrefix(subj, "auto:") {
		return true
	}
	for _, s := range vacationSubjects {
		if strings.Contains(subj, s) {
			return true
		}
	}
	return false
}
