package bounce

import (
	"context"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxSkew is how far a signed webhook's timestamp may be from now (replay
// protection for Mailgun and SendGrid).
const maxSkew = 15 * time.Minute

// postmark checks the Basic credentials and parses one Postmark webhook.
func (w *Webhooks) postmark(_ context.Context, r *http.Request, body []byte) ([]Event, error) {
	u, p, ok := r.BasicAuth()
	okU := subtle.ConstantTimeCompare([]byte(u), []byte(w.pmUser)) == 1
	okP := subtle.ConstantTimeCompare([]byte(p), []byte(w.pmPassword)) == 1
	if !ok || !okU || !okP {
		return nil, fmt.Errorf("%w: Postmark credentials", errUnauthorized)
	}
	return ParsePostmark(body)
}

// postmarkHard and postmarkSoft map Postmark's bounce Type names.
var (
	postmarkHard = map[string]bool{"HardBounce": true, "BadEmailAddress": true, "ManuallyDeactivated": true}
	postmarkSoft = map[string]bool{"SoftBounce": true, "Transient": true, "DnsError": true, "Blocked": true,
		"SMTPApiError": true, "Unknown": true}
)

// ParsePostmark reads one Postmark bounce or spam complaint webhook body.
// HardBounce, BadEmailAddress and ManuallyDeactivated are Hard; SoftBounce,
// Transient, DnsError, Blocked, SMTPApiError, Unknown Soft; SpamComplaint
// a Complaint; AutoResponder an AutoReply; other types (and other record
// types: Delivery, Open…) change nothing.
func ParsePostmark(body []byte) ([]Event, error) {
	var m struct {
		RecordType  string
		Type        string
		Email       string
		Details     string
		Description string
		BouncedAt   string
		Content     string
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("bounce: Postmark webhook: %w", err)
	}
	ev := Event{Source: SourcePostmark, Recipient: bareAddress(m.Email), Action: m.Type,
		Diagnostic: oneLine(firstOf(m.Details, m.Description))}
	ev.At, _ = time.Parse(time.RFC3339, m.BouncedAt)
	switch {
	case m.RecordType == "SpamComplaint" || m.Type == "SpamComplaint":
		ev.Type = Complaint
	case m.RecordType != "Bounce":
		return nil, nil
	case postmarkHard[m.Type]:
		ev.Type = Hard
	case postmarkSoft[m.Type]:
		ev.Type = Soft
	case m.Type == "AutoResponder":
		ev.Type = AutoReply
	default:
		ev.Type = Other
	}
	if ev.Recipient == "" {
		return nil, errors.New("bounce: Postmark webhook without Email")
	}
	return []Event{ev}, nil
}

// mailgun verifies and parses one Mailgun webhook (JSON with a signature
// object and event-data).
func (w *Webhooks) mailgun(_ context.Context, _ *http.Request, body []byte) ([]Event, error) {
	var m struct {
		Signature struct {
			Timestamp string `json:"timestamp"`
			Token     string `json:"token"`
			Signature string `json:"signature"`
		} `json:"signature"`
		EventData json.RawMessage `json:"event-data"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: not a Mailgun webhook: %v", errUnauthorized, err)
	}
	s := m.Signature
	mac := hmac.New(sha256.New, w.mgKey)
	mac.Write([]byte(s.Timestamp + s.Token))
	got, err := hex.DecodeString(s.Signature)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return nil, fmt.Errorf("%w: Mailgun signature", errUnauthorized)
	}
	now := w.opts.Clock.Now()
	if err := fresh(s.Timestamp, now); err != nil {
		return nil, fmt.Errorf("%w: Mailgun %v", errUnauthorized, err)
	}
	// Mailgun signs the timestamp and token, not the body: a token is
	// accepted once, so a captured signature cannot carry another body.
	if !w.mgTokens.first(s.Token, now) {
		return nil, fmt.Errorf("%w: Mailgun token replayed", errUnauthorized)
	}
	return ParseMailgun(m.EventData)
}

// fresh checks a Unix-seconds timestamp against now.
func fresh(ts string, now time.Time) error {
	sec, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxSkew || d < -maxSkew {
		return fmt.Errorf("timestamp %s is more than %s from now", time.Unix(sec, 0).UTC().Format(time.RFC3339), maxSkew)
	}
	return nil
}

// ParseMailgun reads Mailgun's event-data: "failed" with severity
// "permanent" is Hard, "temporary" Soft; "complained" a Complaint; other
// events change nothing.
func ParseMailgun(data []byte) ([]Event, error) {
	var e struct {
		Event          string  `json:"event"`
		Severity       string  `json:"severity"`
		Reason         string  `json:"reason"`
		Recipient      string  `json:"recipient"`
		Timestamp      float64 `json:"timestamp"`
		DeliveryStatus struct {
			Code         int    `json:"code"`
			EnhancedCode string `json:"enhanced-code"`
			Message      string `json:"message"`
			Description  string `json:"description"`
		} `json:"delivery-status"`
		Message struct {
			Headers struct {
				MessageID string `json:"message-id"`
			} `json:"headers"`
		} `json:"message"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("bounce: Mailgun event-data: %w", err)
	}
	ev := Event{Source: SourceMailgun, Recipient: bareAddress(e.Recipient), Action: e.Event,
		Status:    statusCode(e.DeliveryStatus.EnhancedCode),
		MessageID: strings.Trim(e.Message.Headers.MessageID, "<> ")}
	if e.Timestamp > 0 {
		ev.At = time.Unix(int64(e.Timestamp), 0).UTC()
	}
	ds := e.DeliveryStatus
	diag := strings.TrimSpace(firstOf(ds.Message, ds.Description, e.Reason))
	if code := strconv.Itoa(ds.Code); ds.Code != 0 && !strings.HasPrefix(diag, code) {
		diag = code + " " + diag
	}
	ev.Diagnostic = oneLine(diag)
	switch e.Event {
	case "failed":
		ev.Type = Soft
		if e.Severity == "permanent" {
			ev.Type = Hard
		}
	case "complained":
		ev.Type = Complaint
	default:
		return nil, nil
	}
	if ev.Recipient == "" {
		return nil, errors.New("bounce: Mailgun event without recipient")
	}
	return []Event{ev}, nil
}

// SendGrid's signature headers.
const (
	sendGridSigHeader = "X-Twilio-Email-Event-Webhook-Signature"
	sendGridTSHeader  = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// sendgrid verifies the ECDSA signature over timestamp+body and parses
// the events.
func (w *Webhooks) sendgrid(_ context.Context, r *http.Request, body []byte) ([]Event, error) {
	if err := VerifySendGrid(w.sgKey, r.Header.Get(sendGridSigHeader), r.Header.Get(sendGridTSHeader), body, w.opts.Clock.Now()); err != nil {
		return nil, err
	}
	return ParseSendGrid(body)
}

// VerifySendGrid checks a SendGrid signed event webhook: sig is the
// base64 ASN.1 ECDSA signature of SHA-256(timestamp + body).
func VerifySendGrid(key *ecdsa.PublicKey, sig, ts string, body []byte, now time.Time) error {
	s, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sig))
	if err != nil || len(s) == 0 {
		return fmt.Errorf("%w: SendGrid signature missing or not base64", errUnauthorized)
	}
	h := sha256.New()
	h.Write([]byte(ts))
	h.Write(body)
	if !ecdsa.VerifyASN1(key, h.Sum(nil), s) {
		return fmt.Errorf("%w: SendGrid signature", errUnauthorized)
	}
	if err := fresh(ts, now); err != nil {
		return fmt.Errorf("%w: SendGrid %v", errUnauthorized, err)
	}
	return nil
}

// ParseSendGrid reads a SendGrid event batch: "bounce" (type "bounce":
// Hard; "blocked": Soft), "spamreport" (Complaint); other events (deferred,
// dropped, delivered…) change nothing.
func ParseSendGrid(body []byte) ([]Event, error) {
	var evs []struct {
		Email     string `json:"email"`
		Event     string `json:"event"`
		Type      string `json:"type"`
		Status    string `json:"status"`
		Reason    string `json:"reason"`
		Timestamp int64  `json:"timestamp"`
		SMTPID    string `json:"smtp-id"`
	}
	if err := json.Unmarshal(body, &evs); err != nil {
		return nil, fmt.Errorf("bounce: SendGrid events: %w", err)
	}
	var out []Event
	for _, e := range evs {
		ev := Event{Source: SourceSendGrid, Recipient: bareAddress(e.Email), Action: e.Event,
			Status: statusCode(e.Status), Diagnostic: oneLine(e.Reason), MessageID: strings.Trim(e.SMTPID, "<> ")}
		if e.Timestamp > 0 {
			ev.At = time.Unix(e.Timestamp, 0).UTC()
		}
		switch e.Event {
		case "bounce":
			ev.Type = Hard
			if e.Type == "blocked" || strings.HasPrefix(ev.Status, "4") {
				ev.Type = Soft
			}
		case "spamreport":
			ev.Type = Complaint
		default:
			continue
		}
		if ev.Recipient == "" {
			continue
		}
		out = append(out, ev)
	}
	return out, nil
}

func firstOf(s ...string) string {
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// tokenCache remembers the webhook tokens seen within maxSkew.
type tokenCache struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// first records token at now and reports whether it is new. Entries older
// than twice maxSkew are dropped; at most 100000 are kept.
func (c *tokenCache) first(token string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]time.Time{}
	}
	if _, ok := c.seen[token]; ok {
		return false
	}
	if len(c.seen) >= 100000 {
		for k, t := range c.seen {
			if now.Sub(t) > 2*maxSkew {
				delete(c.seen, k)
			}
		}
		if len(c.seen) >= 100000 {
			return false
		}
	}
	c.seen[token] = now
	return true
}
