package mailer

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	htmltemplate "html/template"
	"io/fs"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"text/template"
	"time"

	"herald/feed"
)

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
	footer    string // mail.footer, one line
	markEmail string // placeholders substituted per recipient
	markUnsub string
}

// NewComposer parses the templates (embedded, or from cfg.Templates), the
// subject template and the DKIM key. site must be validated; clock dates
// the messages (nil: the system clock).
func NewComposer(cfg *Config, site *feed.Site, clock Clock) (*Composer, error) {
	c := &Composer{
		site: siteData{
			Title:       sanitizeLine(site.Title),
			URL:         strings.TrimRight(site.URL, "/") + site.BaseURL,
			Description: sanitizeLine(site.Description),
			Language:    site.Language,
		},
		now: nowFunc(clock),
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

	c.footer = sanitizeLine(cfg.Footer)

	subj := cfg.Subject
	if strings.TrimSpace(subj) == "" {
		subj = DefaultSubject
	}
	if c.subject, err = parseText("subject", subj); err != nil {
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
	textSrc   string // the rendered text and HTML with the recipient marks, for Parts
	htmlSrc   string
	sizeHint  int
	digest    bool
	postCount int
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
		Footer: c.footer,
		Digest: len(posts) > 1,
		Recipient: recipientData{
			Email:          c.markEmail,
			UnsubscribeURL: c.markUnsub,
		},
	}
	// Section headings rank below the post title: an h1 in a section
	// becomes h2 under a newsletter's h1 title, h3 under a digest's h2s.
	shift := 1
	if data.Digest {
		shift = 2
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
			pd.HTML = htmltemplate.HTML(styleSection(p.Section.HTML, shift))
			pd.Text = strings.TrimSpace(strings.ReplaceAll(p.Section.Text, "\r", ""))
		}
		data.Posts = append(data.Posts, pd)
	}
	// A digest is named after, and previewed with, the post it shows first.
	data.Title = data.Posts[0].Title
	if data.Digest {
		data.Title = fmt.Sprintf("%s, and %d more", data.Posts[0].Title, len(posts)-1)
	}
	data.Preheader = preheader(data.Posts[0].Text)

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

	p := &Prepared{c: c, subject: subject, digest: data.Digest, postCount: len(posts),
		textSrc: textBuf.String(), htmlSrc: htmlBuf.String()}
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

// Parts returns the text and HTML bodies of the message for r as Message
// encodes them, decoded: what a mail client shows. Line endings are "\n".
func (p *Prepared) Parts(r Recipient) (textBody, htmlBody string, err error) {
	to, err := recipientAddress(r)
	if err != nil {
		return "", "", err
	}
	unsub, err := checkUnsubscribeURL(r.UnsubscribeURL)
	if err != nil {
		return "", "", err
	}
	c := p.c
	textBody = strings.NewReplacer(c.markEmail, to.Address, c.markUnsub, unsub).Replace(normalizeBody(p.textSrc))
	htmlBody = strings.NewReplacer(c.markEmail, html.EscapeString(to.Address), c.markUnsub, html.EscapeString(unsub)).Replace(normalizeBody(p.htmlSrc))
	return textBody, htmlBody, nil
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
	writeHeader(buf, "List-Unsubscribe", listUnsubscribe(unsub, c.mailto))
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
