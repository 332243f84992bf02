package mailer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"herald/feed"
)

// A post whose TLDR section runs to the end of a big file is mailed with
// the section's start and a "continue reading" link (mail.max_section),
// through the real loader.
func TestMailedSectionCap(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("---\ntitle: Long\n---\nIntro.\n\n# TLDR\n\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "Paragraph %d of a section that never ends.\n\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "2024-01-02-long.md"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	site := testSite()
	site.Permalink = feed.DefaultSite().Permalink
	if err := site.Validate(); err != nil {
		t.Fatal(err)
	}
	l := feed.NewLoader(site, dir, nil)
	snap, err := l.Scan(context.Background())
	if err != nil || len(snap.Posts) != 1 {
		t.Fatalf("Scan: %v, %v", snap, err)
	}
	p := snap.Posts[0]
	c := testComposer(t, nil)
	for _, tc := range []struct {
		max       int
		truncated bool
	}{{int(Default().MaxSection), true}, {4 << 20, false}} {
		sec, err := l.Section(context.Background(), p, "TLDR", tc.max)
		if err != nil {
			t.Fatal(err)
		}
		if sec.Truncated != tc.truncated || len(sec.HTML) > tc.max {
			t.Fatalf("max %d: Truncated %v, %d bytes of HTML", tc.max, sec.Truncated, len(sec.HTML))
		}
		prep, err := c.Prepare([]PostMail{{Title: p.Title, URL: p.URL, Date: p.Date, Section: sec}})
		if err != nil {
			t.Fatal(err)
		}
		m, err := prep.Message(Recipient{Email: "a@example.org", UnsubscribeURL: "https://blog.example.com/u?t=x"}, "id@x")
		if err != nil {
			t.Fatal(err)
		}
		raw := messageBytes(t, m)
		pm := checkMail(t, raw)
		link := `continue reading</a>`
		hasLink := strings.Contains(pm.html, `<a href="`+p.URL+`" style="color:#1d4ed8;text-decoration:underline;">`+link)
		hasText := strings.Contains(pm.text, "Continue reading: "+p.URL)
		if hasLink != tc.truncated || hasText != tc.truncated {
			t.Errorf("max %d: continue-reading link in HTML %v, in text %v; want %v", tc.max, hasLink, hasText, tc.truncated)
		}
		if tc.truncated && len(raw) > 3*tc.max {
			t.Errorf("the mail is %d bytes", len(raw))
		}
	}
}
