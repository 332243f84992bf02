package bounce

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
)

// MaxMessageSize bounds a message handed to Parse (and what the receiver
// and the poller accept): bounces quote the original, which is small.
const MaxMessageSize = 10 << 20

// Limits of the MIME walk.
const (
	maxDepth = 6
	maxParts = 64
)

// Formats of a parsed message.
const (
	FormatDSN       = "dsn"
	FormatARF       = "arf"
	FormatHeuristic = "heuristic"
	FormatAutoReply = "autoreply"
	FormatUnknown   = "unknown"
)

// Report is what Parse understood of one message.
type Report struct {
	Format string // FormatDSN, FormatARF, FormatHeuristic, FormatAutoReply or FormatUnknown
	// Tag names the delivery, from the first VERP address of the bounce
	// address that verified; nil when none did.
	Tag *Tag
	// MessageID is the original message's Message-ID (without <>), from
	// the headers the report quotes; "" when it quotes none.
	MessageID string
	Events    []Event // empty for FormatUnknown
	Subject   string  // the report's own subject, for display
	From      string  // the report's own From, for display
}

// Parse reads one raw message (RFC 5322) that arrived at the bounce
// address. envelope lists the addresses it was delivered to (the LMTP/SMTP
// RCPT TO, or nothing when unknown); they, the Delivered-To, X-Original-To,
// Envelope-To and To headers, an ARF report's Original-Mail-From and the
// quoted original's Return-Path are searched for a VERP address when v is
// not nil.
//
// It returns ErrBadTag (wrapped) when such an address is in the VERP form
// but does not verify: the caller must then change nothing. Non-standard
// bounce texts are only understood when a VERP address verified; without
// one they come back as FormatUnknown, as does anything else Parse does not
// recognise. Auto-replies come back as FormatAutoReply with one AutoReply
// event.
func Parse(raw []byte, envelope []string, v *VERP) (*Report, error) {
	if len(raw) > MaxMessageSize {
		return nil, fmt.Errorf("bounce: message of %d bytes is over the %d byte limit", len(raw), MaxMessageSize)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("bounce: reading message: %w", err)
	}
	h := msg.Header
	rep := &Report{Format: FormatUnknown, Subject: decodeHeader(h.Get("Subject")), From: decodeHeader(h.Get("From"))}
	body, err := io.ReadAll(io.LimitReader(msg.Body, MaxMessageSize))
	if err != nil {
		return nil, fmt.Errorf("bounce: reading body: %w", err)
	}
	w := &walker{}
	w.walk(textproto.MIMEHeader(h), body, 0)

	candidates := append([]string(nil), envelope...)
	for _, k := range []string{"Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To"} {
		for _, val := range h[textproto.CanonicalMIMEHeaderKey(k)] {
			candidates = append(candidates, addresses(val)...)
		}
	}
	candidates = append(candidates, w.verpHints...)
	if v != nil {
		for _, c := range candidates {
			t, ok, err := v.Decode(c)
			if err != nil {
				return nil, err
			}
			if ok && rep.Tag == nil {
				rep.Tag = &t
			}
		}
	}
	rep.MessageID = w.origMessageID

	switch {
	case w.dsn != nil:
		rep.Format = FormatDSN
		for _, r := range w.dsn {
			r.MessageID = rep.MessageID
			rep.Events = append(rep.Events, r)
		}
	case w.arf != nil:
		rep.Format = FormatARF
		w.arf.MessageID = rep.MessageID
		rep.Events = []Event{*w.arf}
	case looksLikeBounce(h) && rep.Tag != nil:
		rep.Format = FormatHeuristic
		ev := heuristic(w.text)
		ev.MessageID = rep.MessageID
		rep.Events = []Event{ev}
	case isAutoReply(h, rep.Subject):
		rep.Format = FormatAutoReply
		rep.Events = []Event{{Type: AutoReply, Source: SourceAutoReply, Diagnostic: oneLine(rep.Subject), MessageID: rep.MessageID}}
	}
	return rep, nil
}

// walker collects what Parse needs from the MIME tree.
type walker struct {
	parts         int
	dsn           []Event // recipients of a delivery-status part
	arf           *Event  // a feedback-report part
	origMessageID string  // from the quoted original's headers
	verpHints     []string
	text          []byte // the text/plain parts, for heuristics (bounded)
}

func (w *walker) walk(h textproto.MIMEHeader, body []byte, depth int) {
	w.parts++
	if depth > maxDepth || w.parts > maxParts {
		return
	}
	ct := h.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || ct == "" {
		mt, params = "text/plain", nil
	}
	body = decodeBody(h.Get("Content-Transfer-Encoding"), body)
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			b, err := io.ReadAll(io.LimitReader(p, MaxMessageSize))
			if err != nil {
				return
			}
			w.walk(p.Header, b, depth+1)
		}
	case mt == "message/delivery-status" || mt == "message/global-delivery-status":
		w.deliveryStatus(body)
	case mt == "message/feedback-report":
		w.feedbackReport(body)
	case mt == "text/rfc822-headers" || mt == "message/rfc822-headers" || mt == "message/global-headers" ||
		mt == "message/rfc822" || mt == "message/global":
		w.original(body, depth)
	case mt == "text/plain":
		if len(w.text) < 64<<10 {
			w.text = append(w.text, body...)
			w.text = append(w.text, '\n')
		}
	}
}

// original reads a quoted original message (or only its headers).
func (w *walker) original(body []byte, depth int) {
	r := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(body), strings.NewReader("\r\n\r\n"))))
	h, err := r.ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return
	}
	if id := strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>"); id != "" && w.origMessageID == "" {
		w.origMessageID = id
	}
	if rp := h.Get("Return-Path"); rp != "" {
		w.verpHints = append(w.verpHints, rp)
	}
}

// fieldBlocks splits a delivery-status or feedback-report body into its
// header blocks (separated by blank lines).
func fieldBlocks(body []byte) []textproto.MIMEHeader {
	body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
	var out []textproto.MIMEHeader
	for _, blk := range bytes.Split(body, []byte("\n\n")) {
		blk = bytes.Trim(blk, "\n")
		if len(bytes.TrimSpace(blk)) == 0 {
			continue
		}
		r := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(blk), strings.NewReader("\n\n"))))
		h, err := r.ReadMIMEHeader()
		if err != nil && len(h) == 0 {
			continue
		}
		out = append(out, h)
	}
	return out
}

// deliveryStatus reads an RFC 3464 message/delivery-status body: the
// per-message block, then one block per recipient.
func (w *walker) deliveryStatus(body []byte) {
	blocks := fieldBlocks(body)
	if w.dsn == nil {
		w.dsn = []Event{}
	}
	for _, b := range blocks {
		action := strings.ToLower(strings.TrimSpace(b.Get("Action")))
		if action == "" {
			continue // the per-message block
		}
		status := statusCode(b.Get("Status"))
		rcpt := typedAddress(b.Get("Final-Recipient"))
		if rcpt == "" {
			rcpt = typedAddress(b.Get("Original-Recipient"))
		}
		ev := Event{Source: SourceDSN, Recipient: rcpt, Action: action, Status: status,
			Diagnostic: oneLine(typedValue(b.Get("Diagnostic-Code")))}
		switch action {
		case "failed":
			ev.Type = classify(status)
		default: // delayed, delivered, relayed, expanded: nothing failed (yet)
			ev.Type = Other
		}
		w.dsn = append(w.dsn, ev)
	}
}

// feedbackReport reads an RFC 5965 message/feedback-report body.
func (w *walker) feedbackReport(body []byte) {
	blocks := fieldBlocks(body)
	if len(blocks) == 0 {
		return
	}
	b := blocks[0]
	ft := strings.ToLower(strings.TrimSpace(b.Get("Feedback-Type")))
	ev := Event{Type: Complaint, Source: SourceARF, Action: ft,
		Recipient:  bareAddress(b.Get("Original-Rcpt-To")),
		Diagnostic: oneLine(strings.TrimSpace(ft + " " + b.Get("User-Agent")))}
	switch ft {
	case "abuse", "fraud", "virus", "other", "":
	default: // not-spam, auth-failure, dmarc: no complaint about us
		ev.Type = Other
	}
	if f := b.Get("Original-Mail-From"); f != "" {
		w.verpHints = append(w.verpHints, f)
	}
	w.arf = &ev
}

// statusCode extracts "x.y.z" from a Status field ("5.1.1 (user unknown)").
func statusCode(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t("); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return ""
	}
	for _, p := range parts[1:] {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return ""
		}
	}
	return s
}

// typedValue returns the value of "type; value" fields (Diagnostic-Code:
// smtp; 550 …).
func typedValue(s string) string {
	if i := strings.IndexByte(s, ';'); i >= 0 {
		return strings.TrimSpace(s[i+1:])
	}
	return strings.TrimSpace(s)
}

// typedAddress returns the lowercase address of "rfc822; user@example.com".
func typedAddress(s string) string {
	return bareAddress(typedValue(s))
}

// bareAddress strips <>, a display name and space from an address and
// lowercases its domain (the local part's case is the mailbox owner's:
// RFC 5321, and how subscribers are keyed).
func bareAddress(s string) string {
	s = strings.TrimSpace(s)
	if a, err := mail.ParseAddress(s); err == nil {
		s = a.Address
	} else {
		s = strings.Trim(s, "<> \t")
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[:i] + strings.ToLower(s[i:])
	}
	return s
}

// addresses returns the addresses of a header value, tolerantly.
func addresses(v string) []string {
	if l, err := mail.ParseAddressList(v); err == nil {
		out := make([]string, 0, len(l))
		for _, a := range l {
			out = append(out, a.Address)
		}
		return out
	}
	return []string{strings.Trim(strings.TrimSpace(v), "<>")}
}

// decodeBody undoes a Content-Transfer-Encoding; undecodable bodies are
// returned as they are.
func decodeBody(cte string, body []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, body)
		out := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
		n, err := base64.StdEncoding.Decode(out, clean)
		if err != nil {
			return body
		}
		return out[:n]
	case "quoted-printable":
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return body
		}
		return out
	}
	return body
}

// decodeHeader decodes RFC 2047 words, leaving undecodable text as is.
func decodeHeader(s string) string {
	d, err := new(mime.WordDecoder).DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}
