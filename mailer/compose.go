package mailer

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"herald/feed"
)

//go:embed templates/*.html templates/*.txt
var embeddedTemplates embed.FS

// ErrNoPosts is returned by Composer.Prepare when it is given no posts.
var ErrNoPosts = errors.New("mailer: no posts to mail")

// PostMail is one post's part of a mail.
type PostMail struct {
	Title   string
	URL     string // absolute permalink
	Date    time.Time
	Section *feed.Section // the mailed section; nil: title, date and link only
}

// Recipient is the subscriber a message is addressed to.
type Recipient struct {
	Email          string
	Name           string // optional display name for To
	UnsubscribeURL string // per-subscriber http(s) URL (List-Unsubscribe and the footer)
}

// Message is one complete email for one recipient: its RFC 5322 bytes,
// DKIM-signed when configured. It is immutable and safe to send more than once.
type Message struct {
	to   string // envelope recipient (bare address)
	from string // envelope sender (bare address)
	id   string // Message-ID without <>
	data []byte // CRLF line endings, every line ≤ 998 octets, ASCII
}

// To returns the envelope recipient address.
func (m *Message) To() string { return m.to }

// From returns the envelope sender address (the From address).
func (m *Message) From() string { return m.from }

// ID returns the Message-ID without angle brackets.
func (m *Message) ID() string { return m.id }

// Len returns the size of the message in bytes.
func (m *Message) Len() int { return len(m.data) }

// Bytes returns the message bytes; the caller must not modify them.
func (m *Message) Bytes() []byte { return m.data }

// WriteTo writes the complete message (headers and body, CRLF line endings).
func (m *Message) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(m.data)
	return int64(n), err
}

// Composer renders newsletters and confirmation mails for one site. It is
// safe for concurrent use.
type Composer struct {
	site      siteData
	loc       *time.Location
	from      *mail.Address
	fromHdr   string // encoded From header value
	listID    string
	mailto    string // "" or the unsubscribe mailto address
	subject   *template.Template
	tmpl      *templateSet
	dkim      *dkimSigner
	now       func() time.Time
	markEmail string // placeholders substituted per recipient
	markUnsub string
}

type siteData struct {
	Title       string
	URL         string // site URL + baseurl
	Description string
	Language    string
}

type postData struct {
	Title    string
	URL      string
	Date     time.Time
	DateText string // "6 October 2023", in the site's zone
	Heading  string
	Fallback bool
	// Truncated: the section was cut at mail.max_section; the templates
	// add a "continue reading" link to URL.
	Truncated bool
	HTML      htmltemplate.HTML // the section, trusted from feed's renderer, with inline styles added
	Text      string
}

type recipientData struct {
	Email          string
	UnsubscribeURL string
}

// templateData is what newsletter.html/.txt and confirm.html/.txt receive.
type templateData struct {
	Site       siteData
	Title      string // post title, or "<site>: N new posts" for a digest
	Digest     bool
	Posts      []postData
	Preheader  string // hidden preview text (HTML only)
	Recipient  recipientData
	ConfirmURL string // confirmation mails only
}

type subjectData struct {
	Title  string
	Site   string
	Digest bool
	Posts  []postData
}

type templateSet struct {
	html, confirmHTML *htmltemplate.Template
	text, confirmText *template.Template
}

// parseTemplates reads newsletter.html, newsletter.txt and optionally
// confirm.html, confirm.txt from fsys; missing confirm templates come from the
// embedded set when optionalConfirm is true.
func parseTemplates(fsys fs.FS, where string, optionalConfirm bool) (*templateSet, error) {
	read := func(name string, optional bool) (string, error) {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			if optional && errors.Is(err, fs.ErrNotExist) {
				b, err = embeddedTemplates.ReadFile("templates/" + name)
			}
			if err != nil {
				return "", fmt.Errorf("reading %s/%s: %w", where, name, err)
			}
		}
		if !utf8.Valid(b) {
			return "", fmt.Errorf("%s/%s: not valid UTF-8", where, name)
		}
		return string(b), nil
	}
	var ts templateSet
	var err error
	parseHTML := func(name string, optional bool) *htmltemplate.Template {
		if err != nil {
			return nil
		}
		var src string
		if src, err = read(name, optional); err != nil {
			return nil
		}
		var t *htmltemplate.Template
		if t, err = htmltemplate.New(name).Option("missingkey=error").Parse(src); err != nil {
			err = fmt.Errorf("%s/%w", where, err)
		}
		return t
	}
	parseText := func(name string, optional bool) *template.Template {
		if err != nil {
			return nil
		}
		var src string
		if src, err = read(name, optional); err != nil {
			return nil
		}
		var t *template.Template
		if t, err = template.New(name).Option("missingkey=error").Parse(src); err != nil {
			err = fmt.Errorf("%s/%w", where, err)
		}
		return t
	}
	ts.html = parseHTML("newsletter.html", false)
	ts.text = parseText("newsletter.txt", false)
	ts.confirmHTML = parseHTML("confirm.html", optionalConfirm)
	ts.confirmText = parseText("confirm.txt", optionalConfirm)
	if err != nil {
		return nil, err
	}
	// Execute once against sample data so that a template using an unknown
	// field fails at load, naming the file, not at the first mailing.
	sample := templateData{
		Site:      siteData{Title: "Blog", URL: "https://example.com", Language: "en"},
		Title:     "Title",
		Posts:     []postData{{Title: "Title", URL: "https://example.com/p/", DateText: "1 January 2024"}},
		Recipient: recipientData{Email: "a@example.com", UnsubscribeURL: "https://example.com/u"},
	}
	for _, t := range []interface {
		Execute(io.Writer, any) error
	}{ts.html, ts.text, ts.confirmHTML, ts.confirmText} {
		if err := t.Execute(io.Discard, sample); err != nil {
			return nil, fmt.Errorf("%s/%w", where, err)
		}
	}
	return &ts, nil
}

// NewComposer parses the templates (embedded, or from cfg.Templates), the
// subject template and the DKIM key. site must be validated.
func NewComposer(cfg *Config, site *feed.Site) (*Composer, error) {
	c := &Composer{
		site: siteData{
			Title:       sanitizeLine(site.Title),
			URL:         strings.TrimRight(site.URL, "/") + site.BaseURL,
			Description: sanitizeLine(site.Description),
			Language:    site.Language,
		},
		now: time.Now,
	}
	if c.site.Language == "" {
		c.site.Language = "en"
	}
	c.loc = time.UTC
	if site.Timezone != "" {
		loc, err := time.LoadLocation(site.Timezone)
		if err != nil {
			return nil, fmt.Errorf("mailer: site.timezone: %w", err)
		}
		c.loc = loc
	}
	host := siteHost(site.URL)

	from := cfg.From
	if from == "" {
		addr := site.Email
		if addr == "" {
			addr = "newsletter@" + host
		}
		from = (&mail.Address{Name: c.site.Title, Address: addr}).String()
	}
	a, err := parseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mailer: mail.from: %w", err)
	}
	a.Name = truncateRunes(sanitizeLine(a.Name), 64)
	c.from = a
	c.fromHdr = a.String()

	if cfg.ListID != "" {
		c.listID, err = normalizeListID(cfg.ListID)
	} else {
		name := c.site.Title
		if name == "" {
			name = host
		}
		c.listID, err = normalizeListID(truncateRunes(name, 64) + " <newsletter." + host + ">")
	}
	if err != nil {
		return nil, fmt.Errorf("mailer: mail.list_id: %w", err)
	}
	if cfg.UnsubscribeMailto != "" {
		if c.mailto, err = mailtoAddress(cfg.UnsubscribeMailto); err != nil {
			return nil, fmt.Errorf("mailer: mail.unsubscribe_mailto: %w", err)
		}
	}

	subj := cfg.Subject
	if strings.TrimSpace(subj) == "" {
		subj = DefaultSubject
	}
	if c.subject, err = template.New("subject").Option("missingkey=error").Parse(subj); err != nil {
		return nil, fmt.Errorf("mailer: mail.subject: %w", err)
	}

	if cfg.Templates != "" {
		c.tmpl, err = loadTemplates(cfg.Templates)
	} else {
		sub, _ := fs.Sub(embeddedTemplates, "templates")
		c.tmpl, err = parseTemplates(sub, "(embedded)", false)
	}
	if err != nil {
		return nil, fmt.Errorf("mailer: mail.templates: %w", err)
	}

	if cfg.DKIM.Enabled() {
		if c.dkim, err = newDKIMSigner(&cfg.DKIM); err != nil {
			return nil, fmt.Errorf("mailer: mail.dkim: %w", err)
		}
	}

	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("mailer: %w", err)
	}
	mark := hex.EncodeToString(rnd[:])
	c.markEmail = "x" + mark + "e"
	c.markUnsub = "x" + mark + "u"
	return c, nil
}

// SetClock replaces the clock used for the Date header (tests; default time.Now).
func (c *Composer) SetClock(now func() time.Time) { c.now = now }

// From returns the parsed sender address.
func (c *Composer) From() *mail.Address {
	return &mail.Address{Name: c.from.Name, Address: c.from.Address}
}

// Location returns the time zone dates are shown in.
func (c *Composer) Location() *time.Location { return c.loc }

// Prepared is a mailing rendered once: everything that does not depend on the
// recipient. Message fills in the rest per subscriber. Safe for concurrent use.
type Prepared struct {
	c         *Composer
	subject   string // decoded
	fromLine  []byte // "From: ..." header line
	subjLine  []byte // "Subject: ..." header line
	static    []byte // the other static header lines (MIME-Version, List-Id, ...)
	boundary  string
	text      []segment
	html      []segment
	sizeHint  int
	digest    bool
	postCount int
}

// segment is either pre-encoded quoted-printable bytes (static) or one line
// holding recipient placeholders, split around them and encoded per message.
type segment struct {
	enc    []byte
	pieces []piece // non-nil: a line (ending in "\n") to fill in and encode
}

// piece is literal text (mark < 0) or the recipient value number mark.
type piece struct {
	lit  string
	mark int
}

// Subject returns the decoded subject of the mailing.
func (p *Prepared) Subject() string { return p.subject }

// Prepare renders a mailing for posts: one post gives a newsletter, more give
// a digest with the posts in date order. It returns ErrNoPosts for none.
func (c *Composer) Prepare(posts []PostMail) (*Prepared, error) {
	if len(posts) == 0 {
		return nil, ErrNoPosts
	}
	posts = slices.Clone(posts)
	slices.SortStableFunc(posts, func(a, b PostMail) int { return a.Date.Compare(b.Date) })

	data := templateData{
		Site:   c.site,
		Digest: len(posts) > 1,
		Recipient: recipientData{
			Email:          c.markEmail,
			UnsubscribeURL: c.markUnsub,
		},
	}
	for _, p := range posts {
		pd := postData{
			Title:    sanitizeLine(p.Title),
			URL:      p.URL,
			Date:     p.Date.In(c.loc),
			DateText: humanDate(p.Date.In(c.loc)),
		}
		if pd.Title == "" {
			pd.Title = p.URL
		}
		if p.Section != nil {
			pd.Heading = p.Section.Heading
			pd.Fallback = p.Section.Fallback
			pd.Truncated = p.Section.Truncated
			pd.HTML = htmltemplate.HTML(styleSection(p.Section.HTML))
			pd.Text = strings.TrimSpace(strings.ReplaceAll(p.Section.Text, "\r", ""))
		}
		data.Posts = append(data.Posts, pd)
	}
	if data.Digest {
		data.Title = fmt.Sprintf("%s: %d new posts", c.site.Title, len(posts))
	} else {
		data.Title = data.Posts[0].Title
	}
	if t := data.Posts[len(data.Posts)-1].Text; t != "" {
		data.Preheader = truncateRunes(strings.Join(strings.Fields(t), " "), 140)
	}

	var sb strings.Builder
	err := c.subject.Execute(&sb, subjectData{Title: data.Title, Site: c.site.Title, Digest: data.Digest, Posts: data.Posts})
	if err != nil {
		return nil, fmt.Errorf("mailer: mail.subject: %w", err)
	}
	subject := truncateRunes(sanitizeLine(sb.String()), 200)
	if subject == "" {
		subject = data.Title
	}

	var htmlBuf, textBuf bytes.Buffer
	if err := c.tmpl.html.Execute(&htmlBuf, data); err != nil {
		return nil, fmt.Errorf("mailer: rendering newsletter.html: %w", err)
	}
	if err := c.tmpl.text.Execute(&textBuf, data); err != nil {
		return nil, fmt.Errorf("mailer: rendering newsletter.txt: %w", err)
	}

	p := &Prepared{c: c, subject: subject, digest: data.Digest, postCount: len(posts)}
	marks := []string{c.markEmail, c.markUnsub}
	p.text = segmentize(textBuf.String(), marks)
	p.html = segmentize(htmlBuf.String(), marks)
	p.boundary = boundaryFor(textBuf.String(), htmlBuf.String(), marks)

	var h bytes.Buffer
	writeHeader(&h, "From", c.fromHdr)
	p.fromLine = bytes.Clone(h.Bytes())
	h.Reset()
	writeHeader(&h, "Subject", encodeText(subject))
	p.subjLine = bytes.Clone(h.Bytes())
	h.Reset()
	writeHeader(&h, "MIME-Version", "1.0")
	writeHeader(&h, "List-Id", c.listID)
	writeHeader(&h, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	writeHeader(&h, "Precedence", "bulk")
	writeHeader(&h, "Auto-Submitted", "auto-generated")
	writeHeader(&h, "X-Mailer", "Herald")
	writeHeader(&h, "Content-Type", `multipart/alternative; boundary="`+p.boundary+`"`)
	p.static = h.Bytes()
	p.sizeHint = len(p.fromLine) + len(p.subjLine) + len(p.static) + 1024
	for _, s := range append(slices.Clip(p.text), p.html...) {
		p.sizeHint += len(s.enc) + 200*len(s.pieces)
	}
	return p, nil
}

// Message builds the message for one recipient. messageID (without <>) must be
// unique per (mailing, subscriber) and is chosen by the caller.
func (p *Prepared) Message(r Recipient, messageID string) (*Message, error) {
	c := p.c
	to, err := recipientAddress(r)
	if err != nil {
		return nil, err
	}
	if err := checkMessageID(messageID); err != nil {
		return nil, err
	}
	unsub, err := checkUnsubscribeURL(r.UnsubscribeURL)
	if err != nil {
		return nil, err
	}

	buf := bytes.NewBuffer(make([]byte, 0, p.sizeHint))
	buf.Write(p.fromLine)
	writeHeader(buf, "To", to.String())
	buf.Write(p.subjLine)
	writeHeader(buf, "Date", c.now().In(c.loc).Format(time.RFC1123Z))
	writeHeader(buf, "Message-ID", "<"+messageID+">")
	lu := "<" + unsub + ">"
	if c.mailto != "" {
		lu += ", <mailto:" + c.mailto + "?subject=unsubscribe>"
	}
	writeHeader(buf, "List-Unsubscribe", lu)
	buf.Write(p.static)
	buf.WriteString("\r\n")

	// The values in the order of the marks given to segmentize.
	writePart(buf, p.boundary, "text/plain", p.text, []string{to.Address, unsub})
	writePart(buf, p.boundary, "text/html", p.html, []string{html.EscapeString(to.Address), html.EscapeString(unsub)})
	buf.WriteString("--" + p.boundary + "--\r\n")

	data := buf.Bytes()
	if c.dkim != nil {
		if data, err = c.dkim.sign(data); err != nil {
			return nil, err
		}
	}
	return &Message{to: to.Address, from: c.from.Address, id: messageID, data: data}, nil
}

// Confirmation builds the double opt-in mail asking r to confirm at
// confirmURL. r.UnsubscribeURL is not used. Its Message-ID is random.
func (c *Composer) Confirmation(r Recipient, confirmURL string) (*Message, error) {
	to, err := recipientAddress(r)
	if err != nil {
		return nil, err
	}
	confirm, err := checkUnsubscribeURL(confirmURL)
	if err != nil {
		return nil, fmt.Errorf("mailer: confirmation URL: %w", errors.Unwrap(err))
	}
	data := templateData{
		Site:       c.site,
		Title:      "Confirm your subscription to " + c.site.Title,
		Recipient:  recipientData{Email: to.Address},
		ConfirmURL: confirm,
	}
	var htmlBuf, textBuf bytes.Buffer
	if err := c.tmpl.confirmHTML.Execute(&htmlBuf, data); err != nil {
		return nil, fmt.Errorf("mailer: rendering confirm.html: %w", err)
	}
	if err := c.tmpl.confirmText.Execute(&textBuf, data); err != nil {
		return nil, fmt.Errorf("mailer: rendering confirm.txt: %w", err)
	}
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("mailer: %w", err)
	}
	domain := c.from.Address[strings.LastIndexByte(c.from.Address, '@')+1:]
	id := "confirm." + hex.EncodeToString(rnd[:]) + "@" + domain
	boundary := boundaryFor(textBuf.String(), htmlBuf.String(), nil)

	buf := bytes.NewBuffer(make([]byte, 0, 4*(htmlBuf.Len()+textBuf.Len())/3+2048))
	writeHeader(buf, "From", c.fromHdr)
	writeHeader(buf, "To", to.String())
	writeHeader(buf, "Subject", encodeText(sanitizeLine(data.Title)))
	writeHeader(buf, "Date", c.now().In(c.loc).Format(time.RFC1123Z))
	writeHeader(buf, "Message-ID", "<"+id+">")
	writeHeader(buf, "MIME-Version", "1.0")
	if r.UnsubscribeURL != "" {
		unsub, err := checkUnsubscribeURL(r.UnsubscribeURL)
		if err != nil {
			return nil, err
		}
		writeHeader(buf, "List-Id", c.listID)
		writeHeader(buf, "List-Unsubscribe", "<"+unsub+">")
		writeHeader(buf, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
	writeHeader(buf, "Auto-Submitted", "auto-generated")
	writeHeader(buf, "X-Mailer", "Herald")
	writeHeader(buf, "Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	buf.WriteString("\r\n")
	writePart(buf, boundary, "text/plain", segmentize(textBuf.String(), nil), nil)
	writePart(buf, boundary, "text/html", segmentize(htmlBuf.String(), nil), nil)
	buf.WriteString("--" + boundary + "--\r\n")
	out := buf.Bytes()
	if c.dkim != nil {
		if out, err = c.dkim.sign(out); err != nil {
			return nil, err
		}
	}
	return &Message{to: to.Address, from: c.from.Address, id: id, data: out}, nil
}

func writePart(buf *bytes.Buffer, boundary, ctype string, segs []segment, values []string) {
	buf.WriteString("--" + boundary + "\r\nContent-Type: " + ctype + "; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	var line []byte
	for _, s := range segs {
		if s.pieces == nil {
			buf.Write(s.enc)
			continue
		}
		line = line[:0]
		for _, pc := range s.pieces {
			if pc.mark < 0 {
				line = append(line, pc.lit...)
			} else {
				line = append(line, values[pc.mark]...)
			}
		}
		qp := quotedprintable.NewWriter(buf)
		qp.Write(line)
		qp.Close()
	}
}

// segmentize splits rendered text into lines, quoted-printable encodes the
// runs of lines without placeholders once, and keeps the lines with
// placeholders (split around them) for per-message encoding. Encoding line by
// line gives the same bytes as encoding the whole text, since hard line
// breaks reset the encoder.
func segmentize(s string, marks []string) []segment {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	var segs []segment
	var static bytes.Buffer
	qp := quotedprintable.NewWriter(&static)
	flush := func() {
		qp.Close()
		if static.Len() > 0 {
			segs = append(segs, segment{enc: bytes.Clone(static.Bytes())})
		}
		static.Reset()
		qp = quotedprintable.NewWriter(&static)
	}
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		line := s[:i+1]
		s = s[i+1:]
		pieces := splitMarks(line, marks)
		if pieces == nil {
			io.WriteString(qp, line)
			continue
		}
		flush()
		segs = append(segs, segment{pieces: pieces})
	}
	flush()
	return segs
}

// splitMarks splits line around the marks; nil when it holds none.
func splitMarks(line string, marks []string) []piece {
	var out []piece
	for {
		at, which := -1, -1
		for k, m := range marks {
			if i := strings.Index(line, m); i >= 0 && (at < 0 || i < at) {
				at, which = i, k
			}
		}
		if at < 0 {
			if out == nil {
				return nil
			}
			if line != "" {
				out = append(out, piece{lit: line, mark: -1})
			}
			return out
		}
		if at > 0 {
			out = append(out, piece{lit: line[:at], mark: -1})
		}
		out = append(out, piece{mark: which})
		line = line[at+len(marks[which]):]
	}
}

// boundaryFor derives a deterministic MIME boundary from the content. It
// contains "=_", which never occurs in quoted-printable output.
func boundaryFor(text, html string, marks []string) string {
	h := sha256.New()
	for _, s := range []string{text, html} {
		for i, m := range marks {
			s = strings.ReplaceAll(s, m, fmt.Sprintf("{%d}", i))
		}
		io.WriteString(h, s)
		h.Write([]byte{0})
	}
	return "=_herald_" + hex.EncodeToString(h.Sum(nil)[:12])
}

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

func humanDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2 January 2006")
}

func siteHost(siteURL string) string {
	u, err := url.Parse(siteURL)
	if err != nil || u.Hostname() == "" {
		return "localhost"
	}
	return strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
}

// Inline styles for the section HTML: mail clients drop <style> blocks, so
// every element the renderer emits gets its look inline.
var sectionStyles = map[string]string{
	"p":          "margin:0 0 16px 0;",
	"a":          "color:#1d4ed8;text-decoration:underline;",
	"h1":         "margin:24px 0 8px 0;font-family:Helvetica,Arial,sans-serif;font-size:22px;line-height:28px;color:#111827;",
	"h2":         "margin:24px 0 8px 0;font-family:Helvetica,Arial,sans-serif;font-size:20px;line-height:26px;color:#111827;",
	"h3":         "margin:20px 0 8px 0;font-family:Helvetica,Arial,sans-serif;font-size:18px;line-height:24px;color:#111827;",
	"h4":         "margin:16px 0 8px 0;font-family:Helvetica,Arial,sans-serif;font-size:16px;line-height:22px;color:#111827;",
	"h5":         "margin:16px 0 8px 0;font-family:Helvetica,Arial,sans-serif;font-size:15px;line-height:22px;color:#111827;",
	"h6":         "margin:16px 0 8px 0;font-family:Helvetica,Arial,sans-serif;font-size:14px;line-height:20px;color:#111827;",
	"ul":         "margin:0 0 16px 0;padding:0 0 0 24px;",
	"ol":         "margin:0 0 16px 0;padding:0 0 0 24px;",
	"li":         "margin:0 0 6px 0;",
	"blockquote": "margin:0 0 16px 0;padding:0 0 0 16px;border-left:4px solid #e5e7eb;color:#4b5563;",
	"pre":        "margin:0 0 16px 0;padding:12px;background-color:#f3f4f6;font-family:Menlo,Consolas,monospace;font-size:14px;line-height:20px;white-space:pre-wrap;word-wrap:break-word;",
	"code":       "font-family:Menlo,Consolas,monospace;font-size:14px;background-color:#f3f4f6;",
	"img":        "display:block;max-width:100%;height:auto;border:0;",
	"figure":     "margin:0 0 16px 0;",
	"figcaption": "margin:6px 0 0 0;font-family:Helvetica,Arial,sans-serif;font-size:13px;line-height:18px;color:#6b7280;",
	"table":      "border-collapse:collapse;margin:0 0 16px 0;",
	"th":         "border:1px solid #e5e7eb;padding:6px 8px;text-align:left;",
	"td":         "border:1px solid #e5e7eb;padding:6px 8px;",
	"hr":         "border:0;border-top:1px solid #e5e7eb;margin:16px 0;",
}

// imgWidth is the column's content width (600 px minus 2 × 24 px padding):
// the width attribute Outlook's Word engine needs, as it ignores max-width.
const imgWidth = "552"

var startTagRE = regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9]*)(\s[^<>]*?)?(/?)>`)
var styleAttrRE = regexp.MustCompile(`(?i)\sstyle\s*=\s*"`)
var widthAttrRE = regexp.MustCompile(`(?i)\swidth\s*=`)

// styleSection adds inline styles to the section HTML's start tags (and a
// width attribute to images).
func styleSection(s string) string {
	return startTagRE.ReplaceAllStringFunc(s, func(tag string) string {
		m := startTagRE.FindStringSubmatch(tag)
		name := strings.ToLower(m[1])
		style, ok := sectionStyles[name]
		if !ok {
			return tag
		}
		attrs, slash := m[2], m[3]
		if loc := styleAttrRE.FindStringIndex(attrs); loc != nil {
			attrs = attrs[:loc[1]] + style + attrs[loc[1]:]
		} else {
			attrs += ` style="` + style + `"`
		}
		if name == "img" && !widthAttrRE.MatchString(attrs) {
			attrs += ` width="` + imgWidth + `"`
		}
		if slash != "" {
			slash = " /"
		}
		return "<" + m[1] + attrs + slash + ">"
	})
}
