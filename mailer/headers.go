package mailer

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

func recipientAddress(r Recipient) (*mail.Address, error) {
	email := strings.TrimSpace(r.Email)
	if email == "" || strings.ContainsAny(email, "\r\n<>,; \t") || len(email) > 254 {
		return nil, fmt.Errorf("mailer: bad recipient address %q", r.Email)
	}
	a, err := parseAddress(email)
	if err != nil {
		return nil, fmt.Errorf("mailer: recipient: %w", err)
	}
	a.Name = truncateRunes(sanitizeLine(r.Name), 64)
	return a, nil
}

func checkMessageID(id string) error {
	at := strings.IndexByte(id, '@')
	if at <= 0 || at == len(id)-1 || len(id) > 250 {
		return fmt.Errorf("mailer: bad Message-ID %q (want left@right, without <>)", id)
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if b <= ' ' || b >= 0x7f || b == '<' || b == '>' || b == '"' || b == '\\' || b == '(' || b == ')' || b == ',' || b == ';' || b == ':' || b == '[' || b == ']' {
			return fmt.Errorf("mailer: bad Message-ID %q (want left@right, without <>)", id)
		}
	}
	return nil
}

// checkUnsubscribeURL accepts absolute http(s) URLs made of ASCII without
// spaces or angle brackets (https is what RFC 8058 wants; http is allowed for
// local setups).
func checkUnsubscribeURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("mailer: unsubscribe URL %q: %w", s, errBadURL)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f || s[i] == '<' || s[i] == '>' || s[i] == '"' {
			return "", fmt.Errorf("mailer: unsubscribe URL %q: %w", s, errBadURL)
		}
	}
	if len(s) > 900 {
		return "", fmt.Errorf("mailer: unsubscribe URL too long (%d bytes): %w", len(s), errBadURL)
	}
	return s, nil
}

var errBadURL = errors.New("must be an absolute http(s) URL of printable ASCII")

// writeHeader writes "Name: value" folded at spaces to lines of at most 78
// characters where possible (never more than 998).
func writeHeader(buf *bytes.Buffer, name, value string) {
	line := name + ": " + value
	for len(line) > 78 {
		cut := strings.LastIndexByte(line[:79], ' ')
		if cut <= len(name)+1 {
			cut = strings.IndexByte(line[79:], ' ')
			if cut < 0 {
				break
			}
			cut += 79
		}
		buf.WriteString(line[:cut])
		buf.WriteString("\r\n")
		line = line[cut:] // keeps the space as the folding white space
	}
	buf.WriteString(line)
	buf.WriteString("\r\n")
}

// encodeText encodes an unstructured header value (RFC 2047 Q encoding when it
// is not plain ASCII).
func encodeText(s string) string {
	return mime.QEncoding.Encode("utf-8", s) // unchanged when printable ASCII
}

// encodePhrase encodes a display name as RFC 5322 requires (quoted or RFC 2047).
func encodePhrase(name string) string {
	s := (&mail.Address{Name: name, Address: "a@b"}).String()
	return strings.TrimSuffix(s, " <a@b>")
}

// sanitizeLine drops control characters (CR, LF, tabs become spaces),
// collapses white space and trims: for anything that ends up in a header.
func sanitizeLine(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if unicode.Is(unicode.Cf, r) && r != '\u200d' { // format chars (bidi overrides, zero-width) except ZWJ in emoji
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] < ' ' && s[i] != '\t' {
			return false
		}
	}
	return true
}

// listUnsubscribe is the List-Unsubscribe value (RFC 2369): the https URL
// and, when mailto is set, a mailto: URI, for newsletters and
// confirmation mails alike.
func listUnsubscribe(unsub, mailto string) string {
	lu := "<" + unsub + ">"
	if mailto != "" {
		lu += ", <mailto:" + mailto + "?subject=unsubscribe>"
	}
	return lu
}
