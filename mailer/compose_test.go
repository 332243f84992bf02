package mailer

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"herald/feed/testkit"

	"herald/feed"
)

var fixedNow = time.Date(2024, 3, 5, 9, 30, 0, 0, time.UTC)

func testSite() *feed.Site {
	return &feed.Site{
		Title:    "Example Blog",
		URL:      "https://blog.example.com",
		Email:    "author@example.com",
		Language: "en",
		Timezone: "Europe/Lisbon",
	}
}

func testComposer(t testing.TB, mutate func(*Config)) *Composer {
	t.Helper()
	return newTestComposer(t, testkit.NewClock(fixedNow), mutate)
}

// newTestComposer is testComposer with its clock (nil: the system clock).
func newTestComposer(t testing.TB, clock Clock, mutate func(*Config)) *Composer {
	t.Helper()
	cfg := Default()
	cfg.From = "Example Blog <news@example.com>"
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	c, err := NewComposer(&cfg, testSite(), clock)
	if err != nil {
		t.Fatalf("NewComposer: %v", err)
	}
	return c
}

// seedSection is shaped like feed's rendering of the seed post's TLDR.
func seedSection() *feed.Section {
	return &feed.Section{
		Heading: "5. TLDR",
		HTML: `<p>Navigating a career in the data domain is complex, with overlapping responsibilities across Data Engineering, Data Science, and Machine Learning Engineering roles. This overlap is more pronounced in startups but exists even in mature companies. The industry focus is shifting—moving away from the 'model hype' to a more balanced outlook that includes robust engineering.</p>
<p>Key points to remember:</p>
<ul>
<li>Role overlap is often a necessity, especially in <a href="https://blog.example.com/2023/startups/">startups</a> and small companies.</li>
<li>Data quality is universally vital across all roles.</li>
<li>Agile methodologies pose unique challenges in ML/DS projects.</li>
</ul>
<figure><img src="https://blog.example.com/assets/img/fsds.jpg" alt="The FSDS appears"><figcaption>Figure 2 - The trio is baffled &amp; amused.</figcaption></figure>
<p>Working in engineering may seem like an “ungrateful” job, but those who adapt will find themselves well-equipped to succeed in this data-driven age.</p>`,
		Text: `Navigating a career in the data domain is complex, with overlapping responsibilities across Data Engineering, Data Science, and Machine Learning Engineering roles. This overlap is more pronounced in startups but exists even in mature companies. The industry focus is shifting—moving away from the 'model hype' to a more balanced outlook that includes robust engineering.

Key points to remember:

- Role overlap is often a necessity, especially in startups [1] and small companies.
- Data quality is universally vital across all roles.
- Agile methodologies pose unique challenges in ML/DS projects.

[Figure 2 - The trio is baffled & amused.]

Working in engineering may seem like an “ungrateful” job, but those who adapt will find themselves well-equipped to succeed in this data-driven age.

[1] https://blog.example.com/2023/startups/`,
	}
}

func testRecipient() Recipient {
	return Recipient{
		Email:          "reader@example.org",
		Name:           "Ana Líbano",
		UnsubscribeURL: "https://blog.example.com/herald/unsubscribe?token=abc123&x=1",
	}
}

// parsedMail is a message taken apart with net/mail and mime/multipart.
type parsedMail struct {
	msg        *mail.Message
	raw        []byte
	subject    string
	text, html string
}

// checkMail parses raw and checks what check-mails checks: CRLF lines of at
// most 998 octets, ASCII headers each present once, multipart/alternative
// with text/plain first then text/html, both UTF-8 quoted-printable.
func checkMail(t *testing.T, raw []byte) *parsedMail {
	t.Helper()
	for i, line := range bytes.Split(raw, []byte("\r\n")) {
		if len(line) > 998 {
			t.Errorf("line %d has %d octets", i+1, len(line))
		}
		if bytes.ContainsAny(line, "\r\n") {
			t.Errorf("line %d has a bare CR or LF", i+1)
		}
	}
	hdr, _, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		t.Fatal("no header/body separator")
	}
	for i, b := range hdr {
		if b >= 0x80 || (b < ' ' && b != '\r' && b != '\n' && b != '\t') {
			t.Fatalf("header byte %d is %#x: raw headers must be ASCII", i, b)
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail: %v", err)
	}
	for _, k := range []string{"From", "To", "Subject", "Date", "Message-Id", "Mime-Version"} {
		if n := len(msg.Header[k]); n != 1 {
			t.Errorf("header %s present %d times, want 1", k, n)
		}
	}
	if _, err := msg.Header.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	if _, err := msg.Header.AddressList("To"); err != nil {
		t.Errorf("To: %v", err)
	}
	if _, err := msg.Header.AddressList("From"); err != nil {
		t.Errorf("From: %v", err)
	}
	p := &parsedMail{msg: msg, raw: raw}
	dec := new(mime.WordDecoder)
	if p.subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Errorf("Subject: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		ct, cp, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		types = append(types, ct)
		if cp["charset"] != "utf-8" {
			t.Errorf("%s charset %q, want utf-8", ct, cp["charset"])
		}
		if cte := part.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			t.Errorf("%s encoding %q", ct, cte)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(part))
		if err != nil {
			t.Fatalf("%s: quoted-printable: %v", ct, err)
		}
		switch ct {
		case "text/plain":
			p.text = string(body)
		case "text/html":
			p.html = string(body)
		}
	}
	if strings.Join(types, ",") != "text/plain,text/html" {
		t.Errorf("parts %v, want text/plain then text/html", types)
	}
	return p
}

func messageBytes(t *testing.T, m *Message) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := m.WriteTo(&b)
	if err != nil || n != int64(b.Len()) {
		t.Fatalf("WriteTo: %d, %v", n, err)
	}
	return b.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testkit.Golden(t, filepath.Join("testdata", "compose", name), got)
}

func TestNewsletterGolden(t *testing.T) {
	c := testComposer(t, nil)
	lisbon, _ := time.LoadLocation("Europe/Lisbon")
	date := time.Date(2023, 10, 6, 4, 0, 0, 0, lisbon)
	tests := []struct {
		name        string
		posts       []PostMail
		wantSubject string
		wantInText  []string // in this order
		wantInHTML  []string // in this order
	}{
		{
			name:        "newsletter.eml",
			posts:       []PostMail{{Title: "Finishing my Data Career Masterplan", URL: "https://blog.example.com/2023/10/06/finishing/", Date: date, Section: seedSection()}},
			wantSubject: "Finishing my Data Career Masterplan",
			wantInText:  []string{"Finishing my Data Career Masterplan", "6 October 2023", "Key points to remember", "[1] https://blog.example.com/2023/startups/", "Read the full post: https://blog.example.com/2023/10/06/finishing/"},
			wantInHTML: []string{`<a href="https://blog.example.com/2023/10/06/finishing/" style="color:#111827;text-decoration:none;">Finishing my Data Career Masterplan</a>`,
				"6 October 2023", `<li style="margin:0 0 6px 0;">Role overlap`,
				`<img src="https://blog.example.com/assets/img/fsds.jpg" alt="The FSDS appears" style="max-width:100%;height:auto;border:0;"/>`,
				"Read the full post"},
		},
		{
			name:        "unicode.eml",
			posts:       []PostMail{{Title: "Café, ünïcode & <tags> ✓ — a rather long title that needs folding in the header", URL: "https://blog.example.com/cafe/", Date: date, Section: &feed.Section{HTML: "<p>Olá, mundo!</p>", Text: "Olá, mundo!", Fallback: true}}},
			wantSubject: "Café, ünïcode & <tags> ✓ — a rather long title that needs folding in the header",
			wantInText:  []string{"Café, ünïcode & <tags> ✓", "Olá, mundo!"},
			wantInHTML:  []string{"Café, ünïcode &amp; &lt;tags&gt; ✓", "<p style=\"margin:0 0 16px 0;\">Olá, mundo!</p>"},
		},
		{
			name:        "injection.eml",
			posts:       []PostMail{{Title: "Hello\r\nBcc: victim@example.net\r\n\r\nbody", URL: "https://blog.example.com/hello/", Date: date}},
			wantSubject: "Hello Bcc: victim@example.net body",
			wantInText:  []string{"Hello Bcc: victim@example.net body"},
			wantInHTML:  []string{"Hello Bcc: victim@example.net body"},
		},
		{
			name: "digest.eml",
			posts: []PostMail{
				{Title: "Third", URL: "https://blog.example.com/3/", Date: date.Add(48 * time.Hour), Section: &feed.Section{HTML: "<p>three</p>", Text: "three"}},
				{Title: "First", URL: "https://blog.example.com/1/", Date: date, Section: &feed.Section{HTML: "<p>one</p>", Text: "one"}},
				{Title: "Second", URL: "https://blog.example.com/2/", Date: date.Add(24 * time.Hour), Section: &feed.Section{HTML: "<p>two</p>", Text: "two"}},
			},
			wantSubject: "First, and 2 more",
			wantInText:  []string{"3 new posts", "First", "6 October 2023", "one", "https://blog.example.com/1/", "-----", "Second", "7 October 2023", "two", "-----", "Third", "8 October 2023", "three"},
			wantInHTML:  []string{">one</div>", "<h1", "3 new posts</h1>", "<h2", ">First</a></h2>", "<p style=\"margin:0 0 16px 0;\">one</p>", "border-top:1px solid", "<h2", ">Second</a></h2>", "border-top:1px solid", "<h2", ">Third</a></h2>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := c.Prepare(tt.posts)
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			r := testRecipient()
			m, err := p.Message(r, "20240305.1.42@blog.example.com")
			if err != nil {
				t.Fatalf("Message: %v", err)
			}
			raw := messageBytes(t, m)
			golden(t, tt.name, raw)
			pm := checkMail(t, raw)
			if pm.subject != tt.wantSubject {
				t.Errorf("Subject = %q, want %q", pm.subject, tt.wantSubject)
			}
			if m.To() != r.Email || m.ID() != "20240305.1.42@blog.example.com" || m.From() != "news@example.com" {
				t.Errorf("To/ID/From = %q %q %q", m.To(), m.ID(), m.From())
			}
			h := pm.msg.Header
			for k, want := range map[string]string{
				"Message-Id":            "<20240305.1.42@blog.example.com>",
				"Date":                  "Tue, 05 Mar 2024 09:30:00 +0000",
				"List-Id":               `"Example Blog" <newsletter.blog.example.com>`,
				"List-Unsubscribe":      "<" + r.UnsubscribeURL + ">",
				"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
				"Mime-Version":          "1.0",
				"X-Mailer":              "Herald",
			} {
				if got := h[k]; len(got) != 1 || got[0] != want {
					t.Errorf("%s = %q, want [%q]", k, got, want)
				}
			}
			if len(h["Bcc"]) != 0 {
				t.Errorf("a Bcc header was injected: %q", h["Bcc"])
			}
			to, _ := h.AddressList("To")
			if len(to) != 1 || to[0].Address != r.Email || to[0].Name != r.Name {
				t.Errorf("To = %v", to)
			}
			// The footer: why the reader gets this and how to leave.
			if !strings.Contains(pm.text, "at reader@example.org") || !strings.Contains(pm.text, "Unsubscribe: "+r.UnsubscribeURL) {
				t.Errorf("text footer lacks the address or unsubscribe URL:\n%s", pm.text)
			}
			if !strings.Contains(pm.html, "at reader@example.org.") || !strings.Contains(pm.html, `href="https://blog.example.com/herald/unsubscribe?token=abc123&amp;x=1"`) {
				t.Errorf("html footer lacks the address or unsubscribe link")
			}
			// One <style>, in the head: the dark-mode overrides; everything
			// else is styled inline.
			if body := pm.html[strings.Index(pm.html, "<body"):]; strings.Contains(body, "<style") || strings.Contains(pm.html, "<script") {
				t.Error("html has a <style> in its body or a <script>")
			}
			inOrder(t, "text", pm.text, tt.wantInText)
			inOrder(t, "html", pm.html, tt.wantInHTML)
		})
	}
}

func inOrder(t *testing.T, what, s string, want []string) {
	t.Helper()
	pos := 0
	for _, w := range want {
		i := strings.Index(s[pos:], w)
		if i < 0 {
			t.Errorf("%s: %q missing (or out of order) after offset %d", what, w, pos)
			return
		}
		pos += i + len(w)
	}
}

func TestMessagePerRecipient(t *testing.T) {
	c := testComposer(t, func(cfg *Config) { cfg.UnsubscribeMailto = "unsubscribe@example.com" })
	p, err := c.Prepare([]PostMail{{Title: "T", URL: "https://blog.example.com/t/", Date: fixedNow, Section: seedSection()}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, email := range []string{"a@example.org", "b@example.org", "o'neil+tag@example.org"} {
		unsub := "https://blog.example.com/herald/unsubscribe?token=tok" + string(rune('a'+i))
		m, err := p.Message(Recipient{Email: email, UnsubscribeURL: unsub}, "id"+string(rune('a'+i))+"@x")
		if err != nil {
			t.Fatal(err)
		}
		pm := checkMail(t, messageBytes(t, m))
		if got, want := pm.msg.Header.Get("List-Unsubscribe"), "<"+unsub+">, <mailto:unsubscribe@example.com?subject=unsubscribe>"; got != want {
			t.Errorf("List-Unsubscribe = %q, want %q", got, want)
		}
		if !strings.Contains(pm.text, email) || !strings.Contains(pm.text, unsub) {
			t.Errorf("%s: text lacks its own address or unsubscribe URL", email)
		}
		if strings.Contains(pm.html, "x"+c.markEmail[1:]) || strings.Contains(pm.text, c.markUnsub) {
			t.Error("a placeholder was left in the body")
		}
		if seen[unsub] {
			t.Error("unsubscribe URL shared")
		}
		seen[unsub] = true
	}
}

func TestMessageRejectsBadInput(t *testing.T) {
	c := testComposer(t, nil)
	p, err := c.Prepare([]PostMail{{Title: "T", URL: "https://blog.example.com/t/", Date: fixedNow}})
	if err != nil {
		t.Fatal(err)
	}
	good := testRecipient()
	tests := []struct {
		name string
		r    Recipient
		id   string
	}{
		{"CRLF in address", Recipient{Email: "a@example.org\r\nBcc: b@example.org", UnsubscribeURL: good.UnsubscribeURL}, "a@b"},
		{"no address", Recipient{UnsubscribeURL: good.UnsubscribeURL}, "a@b"},
		{"non-ASCII address", Recipient{Email: "ñ@example.org", UnsubscribeURL: good.UnsubscribeURL}, "a@b"},
		{"javascript unsubscribe", Recipient{Email: "a@example.org", UnsubscribeURL: "javascript:alert(1)"}, "a@b"},
		{"unsubscribe with space", Recipient{Email: "a@example.org", UnsubscribeURL: "https://x.org/u?t=a b"}, "a@b"},
		{"message id with brackets", good, "<a@b>"},
		{"message id with CRLF", good, "a@b\r\nX: y"},
		{"message id without @", good, "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, err := p.Message(tt.r, tt.id); err == nil {
				t.Errorf("Message succeeded:\n%s", m.Bytes())
			}
		})
	}
	if _, err := c.Prepare(nil); err != ErrNoPosts {
		t.Errorf("Prepare(nil) = %v, want ErrNoPosts", err)
	}
}

func TestSubjectTemplate(t *testing.T) {
	tests := []struct {
		tmpl  string
		posts int
		want  string
	}{
		{"{{.Title}}", 1, "Post 1"},
		{"[{{.Site}}] {{.Title}}", 1, "[Example Blog] Post 1"},
		{"{{.Title}}", 2, "Post 1, and 1 more"},
		{"{{.Site}} digest: {{range $i, $p := .Posts}}{{if $i}}, {{end}}{{$p.Title}}{{end}}", 2, "Example Blog digest: Post 1, Post 2"},
		{"{{.Title}}\n\r\x00Bcc: x@y", 1, "Post 1 Bcc: x@y"},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			c := testComposer(t, func(cfg *Config) { cfg.Subject = tt.tmpl })
			var posts []PostMail
			for i := range tt.posts {
				posts = append(posts, PostMail{Title: "Post " + string(rune('1'+i)), URL: "https://blog.example.com/p/", Date: fixedNow.Add(time.Duration(i) * time.Hour)})
			}
			p, err := c.Prepare(posts)
			if err != nil {
				t.Fatal(err)
			}
			m, err := p.Message(testRecipient(), "a@b")
			if err != nil {
				t.Fatal(err)
			}
			pm := checkMail(t, m.Bytes())
			if pm.subject != tt.want || p.Subject() != tt.want {
				t.Errorf("subject %q / %q, want %q", pm.subject, p.Subject(), tt.want)
			}
		})
	}
}

func TestConfirmation(t *testing.T) {
	c := testComposer(t, nil)
	m, err := c.Confirmation(testRecipient(), "https://blog.example.com/herald/confirm?token=xyz", 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pm := checkMail(t, m.Bytes())
	if pm.subject != "Confirm your subscription to Example Blog" {
		t.Errorf("subject %q", pm.subject)
	}
	for _, part := range []string{pm.text, pm.html} {
		if !strings.Contains(part, "https://blog.example.com/herald/confirm?token=xyz") || !strings.Contains(part, "reader@example.org") {
			t.Errorf("confirmation lacks the URL or address:\n%s", part)
		}
	}
	if !strings.HasSuffix(m.ID(), "@example.com") {
		t.Errorf("Message-ID %q", m.ID())
	}
	if _, err := c.Confirmation(testRecipient(), "ftp://x", 0); err == nil {
		t.Error("a non-http confirmation URL was accepted")
	}
}

func TestTemplateOverride(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "newsletter.html"), []byte(`<p>{{.Title}} for {{.Recipient.Email}} <a href="{{.Recipient.UnsubscribeURL}}">leave</a></p>`), 0o644)
	os.WriteFile(filepath.Join(dir, "newsletter.txt"), []byte("{{.Title}} -- {{.Recipient.UnsubscribeURL}}\n"), 0o644)
	c := testComposer(t, func(cfg *Config) { cfg.Templates = dir })
	p, err := c.Prepare([]PostMail{{Title: "<Custom>", URL: "https://blog.example.com/c/", Date: fixedNow}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Message(testRecipient(), "a@b")
	if err != nil {
		t.Fatal(err)
	}
	pm := checkMail(t, m.Bytes())
	if want := `<p>&lt;Custom&gt; for reader@example.org <a href="https://blog.example.com/herald/unsubscribe?token=abc123&amp;x=1">leave</a></p>`; strings.TrimSpace(pm.html) != want {
		t.Errorf("html = %q, want %q", pm.html, want)
	}
	if want := "<Custom> -- https://blog.example.com/herald/unsubscribe?token=abc123&x=1"; strings.TrimSpace(pm.text) != want {
		t.Errorf("text = %q, want %q", pm.text, want)
	}
	// The confirmation falls back to the embedded templates.
	if _, err := c.Confirmation(testRecipient(), "https://blog.example.com/c", 0); err != nil {
		t.Error(err)
	}

	// A broken override is a configuration error naming the file.
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "newsletter.html"), []byte(`{{.Nope}}`), 0o644)
	os.WriteFile(filepath.Join(bad, "newsletter.txt"), []byte(`ok`), 0o644)
	cfg := Default()
	cfg.Templates = bad
	err = cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "mail.templates") || !strings.Contains(err.Error(), "newsletter.html") {
		t.Errorf("Validate = %v, want an error naming mail.templates and newsletter.html", err)
	}
}

func TestStyleSection(t *testing.T) {
	const img = "max-width:100%;height:auto;border:0;"
	tests := []struct {
		name, in string
		shift    int
		want     string
	}{
		{"paragraph", `<p>x</p>`, 0, `<p style="margin:0 0 16px 0;">x</p>`},
		// no width is forced: a 24×24 icon stays 24×24, a large image is
		// capped at the column by max-width
		{"image keeps its size", `<img src="a.png" alt="a">`, 0, `<img src="a.png" alt="a" style="` + img + `"/>`},
		{"icon", `<img src="i.png" alt="" width="24" height="24">`, 0, `<img src="i.png" alt="" width="24" height="24" style="` + img + `"/>`},
		{"own style wins", `<img src="a.png" width="100" style="float:left">`, 0, `<img src="a.png" width="100" style="` + img + `float:left"/>`},
		{"self-closing", `<img src="a.png"/>`, 0, `<img src="a.png" style="` + img + `"/>`},
		{"centred figure", `<figure style="text-align: center"><img src="a.png"><figcaption>C</figcaption></figure>`, 0,
			`<figure style="margin:0 0 16px 0;text-align: center"><img src="a.png" style="` + img + centredImg + `"/><figcaption style="margin:6px 0 0 0;font-family:Helvetica,Arial,sans-serif;font-size:13px;line-height:18px;color:#6b7280;">C</figcaption></figure>`},
		{"centred paragraph", `<p align="center"><img src="a.png"></p>`, 0, `<p align="center" style="margin:0 0 16px 0;"><img src="a.png" style="` + img + centredImg + `"/></p>`},
		{"nearest alignment wins", `<div style="text-align:center"><p style="text-align:left"><img src="a.png"></p></div>`, 0,
			`<div style="text-align:center"><p style="margin:0 0 16px 0;text-align:left"><img src="a.png" style="` + img + `"/></p></div>`},
		{"unstyled elements", `<span>x</span><br>`, 0, `<span>x</span><br/>`},
		{"code", `<pre><code>&lt;p&gt;</code></pre>`, 0, `<pre style="margin:0 0 16px 0;padding:12px;background-color:#f3f4f6;font-family:Menlo,Consolas,monospace;font-size:14px;line-height:20px;white-space:pre-wrap;word-wrap:break-word;"><code style="font-family:Menlo,Consolas,monospace;font-size:14px;background-color:#f3f4f6;">&lt;p&gt;</code></pre>`},
		// a tag inside an attribute value or a comment is not an element
		// (the regular expression this replaced styled both)
		{"tag in attribute", `<a title="<p>" href="u">x</a>`, 0, `<a href="u" title="&lt;p&gt;" style="color:#1d4ed8;text-decoration:underline;">x</a>`},
		{"comment", `<!-- <p> -->`, 0, `<!-- <p> -->`},
		{"headings move down", `<h1>A</h1><h5>B</h5><h6>C</h6>`, 2,
			`<h3 style="` + sectionStyles["h3"] + `">A</h3><h6 style="` + sectionStyles["h6"] + `">B</h6><h6 style="` + sectionStyles["h6"] + `">C</h6>`},
	}
	for _, tt := range tests {
		if got := styleSection(tt.in, tt.shift); got != tt.want {
			t.Errorf("%s: styleSection(%q)\n got %q\nwant %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestWriteHeaderFolds(t *testing.T) {
	var b bytes.Buffer
	long := strings.Repeat("word ", 40)
	writeHeader(&b, "Subject", strings.TrimSpace(long))
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\r\n"), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line of %d characters: %q", len(line), line)
		}
	}
	unfolded := strings.ReplaceAll(strings.TrimSuffix(b.String(), "\r\n"), "\r\n", "")
	if unfolded != "Subject: "+strings.TrimSpace(long) {
		t.Errorf("unfolding gives %q", unfolded)
	}
}
