package feed

import (
	"errors"
	"fmt"
	"html"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSectionSeed(t *testing.T) {
	in := seedInput(t)
	s, err := newRenderer(renderSite()).section(in, "TLDR")
	if err != nil {
		t.Fatal(err)
	}
	if s.Heading != "5. TLDR" || s.Fallback {
		t.Errorf("Heading %q, Fallback %v; want \"5. TLDR\", false", s.Heading, s.Fallback)
	}
	if !strings.Contains(s.HTML, "Key points to remember") || strings.Contains(s.HTML, "Introduction") || strings.Contains(s.HTML, "<h1") {
		t.Errorf("section HTML:\n%s", s.HTML)
	}
	for _, want := range []string{
		"Key points to remember:\n\n- Role overlap is often a necessity, especially in startups and small\n  companies.\n- Data quality is universally vital across all roles.\n",
		"Working in engineering may seem like an “ungrateful” job",
	} {
		if !strings.Contains(s.Text, want) {
			t.Errorf("section Text lacks %q:\n%s", want, s.Text)
		}
	}
	for _, line := range strings.Split(s.Text, "\n") {
		if len([]rune(line)) > textWidth {
			t.Errorf("line longer than %d: %q", textWidth, line)
		}
	}
}

func TestSection(t *testing.T) {
	tests := []struct {
		name, src, desc, section string
		heading, html, text      string
		fallback                 bool
		err                      error
	}{
		{"level and end", "# A\n\n## TL;DR:\n\nShort.\n\n### Detail\n\nMore.\n\n## Next\n\nNo.\n", "", "TLDR",
			"TL;DR:", "<p>Short.</p>\n<h3 id=\"detail\">Detail</h3>\n<p>More.</p>\n", "Short.\n\nDetail\n\nMore.", false, nil},
		{"custom name", "# 1) Summary\n\nIt [works](/a).\n\n# Other\n", "", "summary",
			"1) Summary", "<p>It <a href=\"https://example.com/a\">works</a>.</p>\n", "It works [1].\n\n[1] https://example.com/a", false, nil},
		{"empty section falls back", "# TLDR\n\n# Next\n\nFirst para.\n", "Desc & more", "TLDR",
			"", "<p>Desc &amp; more</p>", "Desc & more", true, nil},
		{"excerpt fallback", "- toc\n\nFirst *para*.\n\nSecond.\n", "", "TLDR",
			"", "<p>First <em>para</em>.</p>\n", "First para.", true, nil},
		{"nothing", "# Only\n\n- a list\n", "", "", "", "", "", false, ErrNoSection},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &renderInput{Src: []byte(tt.src), PostURL: "https://example.com/blog/post/", Description: tt.desc}
			s, err := newRenderer(renderSite()).section(in, tt.section)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Heading != tt.heading || s.HTML != tt.html || s.Text != tt.text || s.Fallback != tt.fallback {
				t.Errorf("got  %+v\nwant {Heading:%s HTML:%s Text:%s Fallback:%v}", *s, tt.heading, tt.html, tt.text, tt.fallback)
			}
		})
	}
}

func TestSectionMatch(t *testing.T) {
	tests := []struct {
		heading, name string
		want          bool
	}{
		{"TLDR", "TLDR", true},
		{"5. TLDR", "TLDR", true},
		{"2.1 TL;DR", "TLDR", true},
		{"TL DR", "TL;DR", true},
		{"tl;dr:", "tldr", true},
		{"TLDR of it", "TLDR", false},
		{"Tools", "TLDR", false},
		{"3. Summary", "Summary", true},
		{"Summary", "TLDR", false},
		{"In Summary", "Summary", false},
		{"Summary!", "Summary", true},
		{"4) Key take-aways:", "Key take aways", true},
		{"¿Resumen?", "resumen", true},
		{"Summary 2", "Summary", false},
		{"!!!", "!", false},
	}
	for _, tt := range tests {
		if got := sectionMatch(tt.heading, tt.name); got != tt.want {
			t.Errorf("sectionMatch(%q, %q) = %v, want %v", tt.heading, tt.name, got, tt.want)
		}
	}
}

func TestSectionMax(t *testing.T) {
	para := func(i int) string { return fmt.Sprintf("Paragraph %d says something & more.", i) }
	var long strings.Builder
	long.WriteString("# Intro\n\nHello.\n\n# TLDR\n\n")
	for i := range 5000 {
		long.WriteString(para(i) + "\n\n")
	}
	giant := "# TLDR\n\n" + strings.Repeat("word & ", 100000) + "\n"
	tests := []struct {
		name, src, desc string
		max             int
		truncated       bool
		check           func(t *testing.T, s *Section)
	}{
		{"fits", long.String(), "", 0, false, func(t *testing.T, s *Section) {
			if !strings.Contains(s.HTML, html.EscapeString(para(4999))) {
				t.Error("no bound: the whole section is kept")
			}
		}},
		{"whole blocks", long.String(), "", 4096, true, func(t *testing.T, s *Section) {
			if !strings.HasPrefix(s.HTML, "<p>"+html.EscapeString(para(0))+"</p>\n") || !strings.HasSuffix(s.HTML, "</p>\n") {
				t.Errorf("HTML not cut between blocks:\n%s", s.HTML)
			}
			if strings.Count(s.HTML, "<p>") != strings.Count(s.Text, "Paragraph") {
				t.Error("text and HTML hold different blocks")
			}
		}},
		{"one giant block", giant, "", 1000, true, func(t *testing.T, s *Section) {
			if !strings.HasPrefix(s.HTML, "<p>word &amp; word") || !strings.HasSuffix(s.HTML, "…</p>") {
				t.Errorf("HTML = %q", s.HTML)
			}
			if strings.Contains(s.HTML, "&amp…") || strings.Contains(s.HTML, "wor…") {
				t.Errorf("not cut at a word: %q", s.HTML[len(s.HTML)-30:])
			}
			if !strings.HasPrefix(s.Text, "word & word") || !strings.HasSuffix(s.Text, "…") {
				t.Errorf("Text = %.60q…", s.Text)
			}
		}},
		{"giant description", "no heading, no paragraph\n- list\n", strings.Repeat("désc ", 10000), 2000, true, func(t *testing.T, s *Section) {
			if !s.Fallback || !utf8.ValidString(s.HTML) {
				t.Errorf("Fallback %v, valid UTF-8 %v", s.Fallback, utf8.ValidString(s.HTML))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &renderInput{Src: []byte(tt.src), PostURL: "https://example.com/blog/post/", Description: tt.desc}
			s, err := newRenderer(renderSite()).sectionMax(in, "TLDR", tt.max)
			if err != nil {
				t.Fatal(err)
			}
			if s.Truncated != tt.truncated {
				t.Errorf("Truncated = %v, want %v", s.Truncated, tt.truncated)
			}
			if tt.max > 0 && len(s.HTML) > tt.max {
				t.Errorf("HTML is %d bytes, more than %d", len(s.HTML), tt.max)
			}
			tt.check(t, s)
		})
	}
}
