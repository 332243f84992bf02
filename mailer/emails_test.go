package mailer

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"herald/feed"
)

func TestPreheader(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"link numbers and list", "Read the guide [1] and the FAQ [2].\n\n[1] https://a.example/g\n[2] https://a.example/f",
			"Read the guide and the FAQ."},
		{"footnote markers", "A claim[^1] and another[^note].", "A claim and another."},
		{"inline TeX", "The mean $\\bar{x} = \\frac{1}{n}\\sum x_i$ is simple.", "The mean is simple."},
		{"display TeX", "Before $$\\int_0^1 f$$ after.", "Before after."},
		{"money is not TeX", "It costs $5 and $10 a month.", "It costs $5 and $10 a month."},
		{"entities", "Fish &amp; chips &lt;3 &#8212; caf&eacute;", "Fish & chips <3 — café"},
		{"images", "[image: A cat] Cats sleep.", "Cats sleep."},
		{"code", "Run `go test` now.", "Run go test now."},
		{"long text is cut at a word", strings.Repeat("word ", 60), strings.TrimSpace(strings.Repeat("word ", 28)) + "…"},
	}
	for _, tt := range tests {
		got := preheader(tt.in)
		if got != tt.want {
			t.Errorf("%s: preheader(%q)\n got %q\nwant %q", tt.name, tt.in, got, tt.want)
		}
		if n := utf8.RuneCountInString(got); n > maxPreheader+1 {
			t.Errorf("%s: %d characters", tt.name, n)
		}
	}
}

// TestDigestNamesItsFirstPost: a digest's subject names its first post,
// its preview text comes from that post, its post titles share one
// heading level below the digest's own, and the section headings rank
// below them.
func TestDigestNamesItsFirstPost(t *testing.T) {
	c := testComposer(t, nil)
	day := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	posts := []PostMail{
		{Title: "Later", URL: "https://blog.example.com/later/", Date: day.Add(24 * time.Hour),
			Section: &feed.Section{HTML: "<h1>Later heading</h1><p>Later text.</p>", Text: "Later text."}},
		{Title: "Earlier", URL: "https://blog.example.com/earlier/", Date: day,
			Section: &feed.Section{HTML: "<h1>Earlier heading</h1><p>Earlier text [1].</p>", Text: "Earlier text [1].\n\n[1] https://x.example/"}},
		{Title: "Middle", URL: "https://blog.example.com/middle/", Date: day.Add(time.Hour), Section: &feed.Section{HTML: "<p>m</p>", Text: "m"}},
	}
	p, err := c.Prepare(posts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Subject(), "Earlier, and 2 more"; got != want {
		t.Errorf("subject %q, want %q", got, want)
	}
	m, err := p.Message(testRecipient(), "d@blog.example.com")
	if err != nil {
		t.Fatal(err)
	}
	pm := checkMail(t, m.Bytes())
	if !strings.Contains(pm.html, `mso-hide:all;">Earlier text.</div>`) {
		t.Errorf("the preview text is not the first post's, cleaned:\n%s", pm.html[:min(len(pm.html), 3000)])
	}
	if n := strings.Count(pm.html, "<h1"); n != 1 {
		t.Errorf("%d <h1> in a digest, want 1 (its title)", n)
	}
	if n := strings.Count(pm.html, "<h2"); n != 3 {
		t.Errorf("%d <h2> in a digest of 3 posts, want 3", n)
	}
	if !strings.Contains(pm.html, ">Earlier heading</h3>") {
		t.Error("a section's h1 is not moved below the digest's post titles (h3)")
	}
	if n := strings.Count(pm.text, strings.Repeat("-", 72)); n != 2 {
		t.Errorf("%d separators between the 3 posts of the text part, want 2:\n%s", n, pm.text)
	}
}

// TestConfirmationLikeTheNewsletter: the confirmation mail carries the
// newsletter's List-Unsubscribe (https and mailto), says how long its link
// works, and its text part is wrapped.
func TestConfirmationLikeTheNewsletter(t *testing.T) {
	c := testComposer(t, func(cfg *Config) {
		cfg.UnsubscribeMailto = "leave@example.com"
		cfg.Footer = "Example Blog, 1 Long Road, Springfield"
	})
	r := testRecipient()
	m, err := c.Confirmation(r, "https://blog.example.com/herald/confirm?token=xyz", 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pm := checkMail(t, m.Bytes())
	prep, err := c.Prepare([]PostMail{{Title: "P", URL: "https://blog.example.com/p/", Date: fixedNow}})
	if err != nil {
		t.Fatal(err)
	}
	nm, err := prep.Message(r, "n@blog.example.com")
	if err != nil {
		t.Fatal(err)
	}
	news := checkMail(t, nm.Bytes())
	for _, k := range []string{"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id"} {
		got, want := pm.msg.Header.Get(k), news.msg.Header.Get(k)
		if got != want || got == "" {
			t.Errorf("confirmation %s = %q, newsletter's %q", k, got, want)
		}
	}
	if lu := pm.msg.Header.Get("List-Unsubscribe"); !strings.Contains(lu, "<mailto:leave@example.com?subject=unsubscribe>") || !strings.Contains(lu, "<https://") {
		t.Errorf("List-Unsubscribe = %q, want https and mailto", lu)
	}
	for name, part := range map[string]string{"text": pm.text, "html": pm.html} {
		if !strings.Contains(part, "valid for 48 hours") {
			t.Errorf("%s part does not say how long the link is valid:\n%s", name, part)
		}
		if !strings.Contains(part, "1 Long Road") {
			t.Errorf("%s part lacks mail.footer", name)
		}
	}
	for i, line := range strings.Split(pm.text, "\n") {
		if utf8.RuneCountInString(line) > textWidth && strings.Contains(line, " ") {
			t.Errorf("text line %d is %d characters long: %q", i+1, utf8.RuneCountInString(line), line)
		}
	}
	if !strings.Contains(strings.ReplaceAll(pm.text, "\r\n", "\n"), "\nhttps://blog.example.com/herald/confirm?token=xyz\n") {
		t.Errorf("the confirmation URL is not on a line of its own:\n%s", pm.text)
	}
}

func TestWrapText(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("x", 80)
	tests := []struct {
		in    string
		width int
		want  string
	}{
		{"short", 8, "short"},
		{"aaa bbb ccc ddd", 8, "aaa bbb\nccc ddd"},
		{"  aaa bbb ccc", 8, "  aaa\n  bbb\n  ccc"},
		{"x\n\naaa bbb ccc ddd", 8, "x\n\naaa bbb\nccc ddd"},
		{"see " + long + " now", 72, "see\n" + long + "\nnow"}, // a URL is never broken
	}
	for _, tt := range tests {
		if got := wrapText(tt.in, tt.width); got != tt.want {
			t.Errorf("wrapText(%q, %d) = %q, want %q", tt.in, tt.width, got, tt.want)
		}
	}
}

// TestMailFooterAndColourScheme: mail.footer (a postal address) is in both
// parts of a newsletter, and the HTML declares light and dark support with
// a dark palette.
func TestMailFooterAndColourScheme(t *testing.T) {
	c := testComposer(t, func(cfg *Config) { cfg.Footer = "Example Blog · 1 Main Street\r\nSpringfield" })
	p, err := c.Prepare([]PostMail{{Title: "P", URL: "https://blog.example.com/p/", Date: fixedNow}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Message(testRecipient(), "f@blog.example.com")
	if err != nil {
		t.Fatal(err)
	}
	pm := checkMail(t, m.Bytes())
	const want = "Example Blog · 1 Main Street Springfield" // one line: CR LF folded
	if !strings.Contains(pm.text, "\n"+want) || !strings.Contains(pm.html, want) {
		t.Errorf("footer %q missing:\n%s", want, pm.text)
	}
	for _, s := range []string{`<meta name="color-scheme" content="light dark">`, "@media (prefers-color-scheme: dark)", `class="h-body"`} {
		if !strings.Contains(pm.html, s) {
			t.Errorf("html lacks %s", s)
		}
	}
	// Without a footer there is no empty line for it.
	c = testComposer(t, nil)
	p, _ = c.Prepare([]PostMail{{Title: "P", URL: "https://blog.example.com/p/", Date: fixedNow}})
	m, _ = p.Message(testRecipient(), "f@blog.example.com")
	if pm := checkMail(t, m.Bytes()); !strings.HasSuffix(strings.TrimRight(pm.text, "\n"), "x=1") {
		t.Errorf("text part ends with %q", pm.text[max(0, len(pm.text)-80):])
	}

	cfg := Default()
	cfg.Footer = strings.Repeat("x", maxFooter+1)
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "mail.footer") {
		t.Errorf("Validate of a %d-character footer = %v, want a mail.footer error", maxFooter+1, err)
	}
}
