package feed

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// parseText parses one post file's text with a site in zone tz.
func parseText(t *testing.T, tz, rel, text string) (*parsedPost, error) {
	t.Helper()
	return newPostParser(loaderSite(t, tz, "")).parse(rel, []byte(text))
}

func TestParsePostSeed(t *testing.T) {
	data, err := os.ReadFile("testdata/seed-post.md")
	if err != nil {
		t.Fatal(err)
	}
	pp, err := newPostParser(loaderSite(t, "UTC", "")).parse("2023-10-06-finishing-my-data-career-masterplan.md", data)
	if err != nil {
		t.Fatalf("parse seed post: %v", err)
	}
	p := pp.post
	want := Post{
		Name:        "2023-10-06-finishing-my-data-career-masterplan",
		Slug:        "finishing-my-data-career-masterplan",
		Title:       "Finishing my Data Career Masterplan",
		Date:        time.Date(2023, 10, 6, 4, 0, 0, 0, time.UTC),
		Description: "Thoughts after being a D. Engineer, D. Scientist, and ML Engineer",
		Tags:        []string{"Career"},
		URL:         "https://example.com/blog/2023/10/06/finishing-my-data-career-masterplan/",
		ID:          "https://example.com/blog/2023/10/06/finishing-my-data-career-masterplan/",
		Published:   true,
		Newsletter:  true,
		BodyLine:    8,
	}
	if !reflect.DeepEqual(*p, want) {
		t.Errorf("seed post =\n%+v\nwant\n%+v", *p, want)
	}
	if len(pp.warnings) != 0 {
		t.Errorf("warnings = %v, want none", pp.warnings)
	}
}

func TestParsePostKeys(t *testing.T) {
	const rel = "2024-01-02-file-slug.md"
	fm := func(lines ...string) string {
		return "---\ntitle: T\n" + strings.Join(lines, "\n") + "\n---\nbody\n"
	}
	tests := []struct {
		name  string
		text  string
		check func(t *testing.T, p *Post)
	}{
		{"title only: date from file name at midnight in site zone, defaults", fm(), func(t *testing.T, p *Post) {
			if want := time.Date(2024, 1, 2, 0, 0, 0, 0, mustLoc(t, "Europe/Berlin")); !p.Date.Equal(want) {
				t.Errorf("Date = %v, want %v", p.Date, want)
			}
			if !p.Published || !p.Newsletter || p.Tags != nil || p.Categories != nil || p.Image != "" || !p.Updated.IsZero() {
				t.Errorf("defaults wrong: %+v", p)
			}
			if p.URL != "https://example.com/blog/2024/01/02/file-slug/" || p.ID != p.URL {
				t.Errorf("URL = %q, ID = %q", p.URL, p.ID)
			}
		}},
		{"quoted title trimmed", "---\ntitle: \"  Hello: World  \"\n---\n", func(t *testing.T, p *Post) {
			if p.Title != "Hello: World" {
				t.Errorf("Title = %q", p.Title)
			}
		}},
		{"numeric title", "---\ntitle: 2024\n---\n", func(t *testing.T, p *Post) {
			if p.Title != "2024" {
				t.Errorf("Title = %q", p.Title)
			}
		}},
		{"date in site zone, converted to site zone", fm("date: 2024-01-05 10:00:00 +0000"), func(t *testing.T, p *Post) {
			if p.Date.Format(time.RFC3339) != "2024-01-05T11:00:00+01:00" {
				t.Errorf("Date = %s", p.Date.Format(time.RFC3339))
			}
		}},
		{"date keeps permalink in site zone", fm("date: 2024-01-05 23:30:00 -0500"), func(t *testing.T, p *Post) {
			if !strings.Contains(p.URL, "/2024/01/06/") {
				t.Errorf("URL = %q, want the Berlin date 2024/01/06", p.URL)
			}
		}},
		{"empty date means file name date", fm("date:"), func(t *testing.T, p *Post) {
			if p.Date.Day() != 2 {
				t.Errorf("Date = %v", p.Date)
			}
		}},
		{"description and excerpt_separator", fm("description: A summary.", "excerpt_separator: <!--more-->"), func(t *testing.T, p *Post) {
			if p.Description != "A summary." || p.ExcerptSeparator != "<!--more-->" {
				t.Errorf("Description = %q, ExcerptSeparator = %q", p.Description, p.ExcerptSeparator)
			}
		}},
		{"tags as a list", fm("tags: ['Career', data, 'two words']"), func(t *testing.T, p *Post) {
			if want := []string{"Career", "data", "two words"}; !reflect.DeepEqual(p.Tags, want) {
				t.Errorf("Tags = %q, want %q", p.Tags, want)
			}
		}},
		{"tags as a block list", fm("tags:", "  - a", "  - b", "  - a"), func(t *testing.T, p *Post) {
			if want := []string{"a", "b"}; !reflect.DeepEqual(p.Tags, want) {
				t.Errorf("Tags = %q, want %q", p.Tags, want)
			}
		}},
		{"tags as a string", fm("tags: go  feeds\tjekyll"), func(t *testing.T, p *Post) {
			if want := []string{"go", "feeds", "jekyll"}; !reflect.DeepEqual(p.Tags, want) {
				t.Errorf("Tags = %q, want %q", p.Tags, want)
			}
		}},
		{"singular tag is one tag and wins", fm("tags: a b", "tag: two words"), func(t *testing.T, p *Post) {
			if want := []string{"two words"}; !reflect.DeepEqual(p.Tags, want) {
				t.Errorf("Tags = %q, want %q", p.Tags, want)
			}
		}},
		{"categories string, URL lowercased", fm("categories: Data Career"), func(t *testing.T, p *Post) {
			if want := []string{"Data", "Career"}; !reflect.DeepEqual(p.Categories, want) {
				t.Errorf("Categories = %q, want %q", p.Categories, want)
			}
		}},
		{"singular category", fm("category: Machine Learning"), func(t *testing.T, p *Post) {
			if want := []string{"Machine Learning"}; !reflect.DeepEqual(p.Categories, want) {
				t.Errorf("Categories = %q, want %q", p.Categories, want)
			}
		}},
		{"author string", fm("author: Ada Lovelace"), func(t *testing.T, p *Post) {
			if p.Author != "Ada Lovelace" {
				t.Errorf("Author = %q", p.Author)
			}
		}},
		{"author mapping", fm("author:", "  name: Ada", "  email: ada@example.com"), func(t *testing.T, p *Post) {
			if p.Author != "Ada" {
				t.Errorf("Author = %q", p.Author)
			}
		}},
		{"author list", fm("author: [Ada, Grace]"), func(t *testing.T, p *Post) {
			if p.Author != "Ada, Grace" {
				t.Errorf("Author = %q", p.Author)
			}
		}},
		{"permalink override with placeholders", fm("permalink: /notes/:year/:slug.html"), func(t *testing.T, p *Post) {
			if p.URL != "https://example.com/blog/notes/2024/file-slug.html" {
				t.Errorf("URL = %q", p.URL)
			}
		}},
		{"permalink fixed", fm("permalink: /about/"), func(t *testing.T, p *Post) {
			if p.URL != "https://example.com/blog/about/" {
				t.Errorf("URL = %q", p.URL)
			}
		}},
		{"slug overrides title and slug", fm("slug: Other Name", "permalink: /:title/:slug/"), func(t *testing.T, p *Post) {
			if p.Slug != "Other Name" || p.URL != "https://example.com/blog/Other-Name/other-name/" {
				t.Errorf("Slug = %q, URL = %q", p.Slug, p.URL)
			}
		}},
		{"published false", fm("published: false"), func(t *testing.T, p *Post) {
			if p.Published {
				t.Error("Published = true")
			}
		}},
		{"published true", fm("published: true"), func(t *testing.T, p *Post) {
			if !p.Published {
				t.Error("Published = false")
			}
		}},
		{"draft true", fm("draft: true"), func(t *testing.T, p *Post) {
			if p.Published {
				t.Error("Published = true")
			}
		}},
		{"draft false", fm("draft: false"), func(t *testing.T, p *Post) {
			if !p.Published {
				t.Error("Published = false")
			}
		}},
		{"newsletter false", fm("newsletter: no"), func(t *testing.T, p *Post) {
			if p.Newsletter {
				t.Error("Newsletter = true")
			}
		}},
		{"updated", fm("updated: 2024-02-01"), func(t *testing.T, p *Post) {
			if p.Updated.Format(time.RFC3339) != "2024-02-01T00:00:00+01:00" {
				t.Errorf("Updated = %v", p.Updated)
			}
		}},
		{"last_modified_at", fm("last_modified_at: 2024-02-01T10:00:00Z"), func(t *testing.T, p *Post) {
			if !p.Updated.Equal(time.Date(2024, 2, 1, 10, 0, 0, 0, time.UTC)) {
				t.Errorf("Updated = %v", p.Updated)
			}
		}},
		{"image relative", fm("image: assets/img/a b.jpg"), func(t *testing.T, p *Post) {
			if p.Image != "https://example.com/blog/assets/img/a%20b.jpg" {
				t.Errorf("Image = %q", p.Image)
			}
		}},
		{"image rooted", fm("image: /assets/a.jpg"), func(t *testing.T, p *Post) {
			if p.Image != "https://example.com/blog/assets/a.jpg" {
				t.Errorf("Image = %q", p.Image)
			}
		}},
		{"image absolute", fm("image: https://cdn.example.net/a.jpg"), func(t *testing.T, p *Post) {
			if p.Image != "https://cdn.example.net/a.jpg" {
				t.Errorf("Image = %q", p.Image)
			}
		}},
		{"image scheme-relative", fm("image: //cdn.example.net/a.jpg"), func(t *testing.T, p *Post) {
			if p.Image != "https://cdn.example.net/a.jpg" {
				t.Errorf("Image = %q", p.Image)
			}
		}},
		{"image mapping path", fm("image:", "  path: /img/x.png", "  alt: X"), func(t *testing.T, p *Post) {
			if p.Image != "https://example.com/blog/img/x.png" {
				t.Errorf("Image = %q", p.Image)
			}
		}},
		{"image mapping url", fm("image: {url: 'https://x.example/y.png'}"), func(t *testing.T, p *Post) {
			if p.Image != "https://x.example/y.png" {
				t.Errorf("Image = %q", p.Image)
			}
		}},
		{"id kept when it has a scheme", fm("id: urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427"), func(t *testing.T, p *Post) {
			if p.ID != "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427" {
				t.Errorf("ID = %q", p.ID)
			}
		}},
		{"id path made absolute like jekyll-feed", fm("id: /2015/01/old-url"), func(t *testing.T, p *Post) {
			if p.ID != "https://example.com/blog/2015/01/old-url" || p.URL == p.ID {
				t.Errorf("ID = %q", p.ID)
			}
		}},
		{"unknown keys ignored", fm("layout: post", "comments: true", "foo: {bar: [1, 2]}"), func(t *testing.T, p *Post) {
			if p.Title != "T" {
				t.Errorf("Title = %q", p.Title)
			}
		}},
		{"anchors and aliases", "---\nx: &t Aliased\ntitle: *t\ntags: *t\n---\n", func(t *testing.T, p *Post) {
			if p.Title != "Aliased" || !reflect.DeepEqual(p.Tags, []string{"Aliased"}) {
				t.Errorf("Title = %q, Tags = %q", p.Title, p.Tags)
			}
		}},
		{"BOM", "\uFEFF---\ntitle: With BOM\n---\nbody\n", func(t *testing.T, p *Post) {
			if p.Title != "With BOM" || p.BodyLine != 4 {
				t.Errorf("Title = %q, BodyLine = %d", p.Title, p.BodyLine)
			}
		}},
		{"CRLF", "---\r\ntitle: With CRLF\r\ntags: [a, b]\r\ndate: 2024-01-03 10:00\r\n---\r\nbody\r\n", func(t *testing.T, p *Post) {
			if p.Title != "With CRLF" || !reflect.DeepEqual(p.Tags, []string{"a", "b"}) || p.Date.Day() != 3 || p.BodyLine != 6 {
				t.Errorf("Title = %q, Tags = %q, Date = %v, BodyLine = %d", p.Title, p.Tags, p.Date, p.BodyLine)
			}
		}},
		{"BOM and CRLF, trailing spaces on delimiters", "\uFEFF--- \r\ntitle: Both\r\n---  \r\n", func(t *testing.T, p *Post) {
			if p.Title != "Both" || p.BodyLine != 4 {
				t.Errorf("Title = %q, BodyLine = %d", p.Title, p.BodyLine)
			}
		}},
		{"dots close the front matter", "---\ntitle: Dots\n...\nbody", func(t *testing.T, p *Post) {
			if p.Title != "Dots" || p.BodyLine != 4 {
				t.Errorf("Title = %q, BodyLine = %d", p.Title, p.BodyLine)
			}
		}},
		{"no body", "---\ntitle: Empty\n---", func(t *testing.T, p *Post) {
			if p.Title != "Empty" || p.BodyLine != 4 {
				t.Errorf("Title = %q, BodyLine = %d", p.Title, p.BodyLine)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pp, err := parseText(t, "Europe/Berlin", rel, tt.text)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(pp.warnings) > 0 {
				t.Errorf("warnings: %v", pp.warnings)
			}
			tt.check(t, pp.post)
		})
	}
}

func TestParsePostPathCategories(t *testing.T) {
	pp, err := parseText(t, "UTC", "blog/_posts/2024-01-02-x.md", "---\ntitle: X\ncategories: [Go]\n---\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Go", "blog"}; !reflect.DeepEqual(pp.post.Categories, want) {
		t.Errorf("Categories = %q, want %q", pp.post.Categories, want)
	}
	site := loaderSite(t, "UTC", "/:categories/:title/")
	pp, err = newPostParser(site).parse("blog/_posts/2024-01-02-x.md", []byte("---\ntitle: X\ncategories: [Go, go]\n---\n"))
	if err != nil {
		t.Fatal(err)
	}
	if pp.post.URL != "https://example.com/blog/go/blog/x/" {
		t.Errorf("URL = %q, want categories lowercased and deduplicated", pp.post.URL)
	}
	// A subfolder inside the posts folder is not a category.
	pp, err = newPostParser(site).parse("2024/2024-01-02-x.md", []byte("---\ntitle: X\n---\n"))
	if err != nil {
		t.Fatal(err)
	}
	if pp.post.Categories != nil || pp.post.URL != "https://example.com/blog/x/" {
		t.Errorf("Categories = %q, URL = %q", pp.post.Categories, pp.post.URL)
	}
}

func TestParsePostWarnings(t *testing.T) {
	tests := []struct {
		name, text string
		line       int
		msg        string
	}{
		{"non-boolean published", "---\ntitle: T\npublished: maybe\n---\n", 3, `published: must be true or false, got "maybe"`},
		{"quoted false is not a boolean", "---\ntitle: T\ndraft: 'true'\n---\n", 3, "draft: must be true or false"},
		{"description mapping", "---\ntitle: T\ndescription: {a: b}\n---\n", 3, "description: must be a string"},
		{"unknown permalink placeholder", "---\ntitle: T\npermalink: /:yaer/:title/\n---\n", 3, "permalink: unknown placeholder :yaer"},
		{"tags with a mapping item", "---\ntitle: T\ntags: [a, {b: c}]\n---\n", 3, "tags: must be a list"},
		{"date in the DST gap", "---\ntitle: T\n\ndate: 2024-03-31 02:30:00\n---\n", 4,
			"date: 2024-03-31 02:30:00 does not exist in Europe/Berlin (clocks go forward that day); read as 2024-03-31 03:30:00 +0200 CEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pp, err := parseText(t, "Europe/Berlin", "2024-01-02-x.md", tt.text)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(pp.warnings) != 1 || pp.warnings[0].line != tt.line || !strings.HasPrefix(pp.warnings[0].msg, tt.msg) {
				t.Errorf("warnings = %+v, want one at line %d starting %q", pp.warnings, tt.line, tt.msg)
			}
		})
	}
}

func TestParsePostErrors(t *testing.T) {
	tests := []struct {
		name, rel, text string
		line            int
		msg             string // prefix
	}{
		{"broken YAML", "", "---\ntitle: T\ntags: [a, b\ndate: 2024-01-01\n---\nbody\n", 3, "front matter: invalid YAML: did not find expected ',' or ']'"},
		{"mapping in wrong place", "", "---\ntitle: T\ndescription: a\n  b: c\n---\n", 4, "front matter: invalid YAML: mapping values are not allowed"},
		{"broken YAML after BOM and CRLF", "", "\uFEFF---\r\ntitle: T\r\nx: 'unclosed\r\n---\r\n", 3, "front matter: invalid YAML:"},
		{"broken flow mapping", "", "---\na: 1\nb: 2\nc: {x: 1\n---\n", 4, "front matter: invalid YAML: did not find expected ',' or '}'"},
		{"stray bracket", "", "---\na: 1\nb: 2\nc: [x]]\n---\n", 4, "front matter: invalid YAML: did not find expected key"},
		{"list item in a mapping", "", "---\na: 1\nb:\n  - x\n  y: 2\n---\n", 4, "front matter: invalid YAML: did not find expected '-' indicator"},
		{"bad token", "", "---\na: 1\nb: 2\nc: @x\n---\n", 4, "front matter: invalid YAML: found character that cannot start any token"},
		{"YAML error without a line", "", "---\ntitle: *nope\n---\n", 1, "front matter: invalid YAML: unknown anchor 'nope' referenced"},
		{"bad date", "", "---\ntitle: T\n\ndate: 2023-13-45\n---\n", 4, `date: bad date "2023-13-45": month 13 out of range`},
		{"bad date form", "", "---\ntitle: T\ndate: next tuesday\n---\n", 3, `date: bad date "next tuesday"`},
		{"bad updated", "", "---\ntitle: T\nupdated: 2023-02-30\n---\n", 3, `updated: bad date "2023-02-30"`},
		{"date as list", "", "---\ntitle: T\ndate: [2023-01-01]\n---\n", 3, "date: must be a date"},
		{"empty title, no words in the file name", "2024-01-02-..md", "---\ndescription: d\ntitle: \"  \"\n---\n", 3, "title: required"},
		{"title as list", "", "---\ntitle: [a, b]\n---\n", 2, "title: must be a string"},
		{"front matter not a mapping", "", "---\n- a\n- b\n---\n", 2, "front matter: must be a YAML mapping"},
		{"no front matter", "", "# Just Markdown\n\ntext\n", 1, "no front matter"},
		{"front matter not at the top", "", "\n---\ntitle: T\n---\n", 1, "no front matter"},
		{"front matter not closed", "", "---\ntitle: T\nbody\n", 1, "front matter not closed"},
		{"only an opening line", "", "---", 1, "front matter not closed"},
		{"invalid UTF-8 in body", "", "---\ntitle: T\n---\nline four\nbad \xff byte\n", 5, "invalid UTF-8: byte 0xFF at column 5"},
		{"invalid UTF-8 in front matter", "", "---\ntitle: caf\xe9\n---\n", 2, "invalid UTF-8: byte 0xE9 at column 11"},
		{"bad date in file name", "2023-02-30-x.md", "---\ntitle: T\n---\n", 0, "file name: bad date"},
		{"not a post name", "notes.md", "---\ntitle: T\n---\n", 0, "file name is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rel := tt.rel
			if rel == "" {
				rel = "2024-01-02-x.md"
			}
			pp, err := parseText(t, "UTC", rel, tt.text)
			if err == nil {
				t.Fatalf("parse = %+v, want an error", pp.post)
			}
			var perr *postError
			if !errors.As(err, &perr) {
				t.Fatalf("error %T %v is not a *postError", err, err)
			}
			if perr.line != tt.line || !strings.HasPrefix(perr.msg, tt.msg) {
				t.Errorf("error = line %d %q, want line %d %q…", perr.line, perr.msg, tt.line, tt.msg)
			}
		})
	}
}

func TestSplitFrontMatter(t *testing.T) {
	tests := []struct {
		name, in string
		fm, body string
		bodyLine int
	}{
		{"plain", "---\na: 1\n---\nbody\n", "a: 1\n", "body\n", 4},
		{"crlf", "---\r\na: 1\r\nb: 2\r\n---\r\nbody\r\n", "a: 1\nb: 2\n", "body\r\n", 5},
		{"bom", "\uFEFF---\na: 1\n---\n", "a: 1\n", "", 4},
		{"empty", "---\n---\nx", "", "x", 3},
		{"dashes in body", "---\na: 1\n---\n---\n", "a: 1\n", "---\n", 4},
		{"no newline at end", "---\na: 1\n---", "a: 1\n", "", 4},
		{"longer dashes are YAML", "---\na: |\n  ----\n---\n", "a: |\n  ----\n", "", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fm, body, line, perr := splitFrontMatter([]byte(tt.in))
			if perr != nil {
				t.Fatalf("error: %v", perr)
			}
			if string(fm) != tt.fm || string(body) != tt.body || line != tt.bodyLine {
				t.Errorf("got (%q, %q, %d), want (%q, %q, %d)", fm, body, line, tt.fm, tt.body, tt.bodyLine)
			}
		})
	}
}

func TestPostName(t *testing.T) {
	tests := []struct {
		base, name, date, slug string
		ok                     bool
	}{
		{"2023-10-06-finishing.md", "2023-10-06-finishing", "2023-10-06", "finishing", true},
		{"2023-10-06-a.b.markdown", "2023-10-06-a.b", "2023-10-06", "a.b", true},
		{"2023-10-06-.md", "", "", "", false},
		{"2023-10-06.md", "", "", "", false},
		{"2023-1-06-x.md", "", "", "", false},
		{"2023-10-06-x.txt", "", "", "", false},
		{"2023-10-06-x.MD", "", "", "", false},
		{"index.md", "", "", "", false},
		{"abcd-10-06-x.md", "", "", "", false},
	}
	for _, tt := range tests {
		name, date, slug, ok := postName(tt.base)
		if name != tt.name || date != tt.date || slug != tt.slug || ok != tt.ok {
			t.Errorf("postName(%q) = %q, %q, %q, %v", tt.base, name, date, slug, ok)
		}
	}
}

// fastYAMLCases are front matters the fast path must take (and read as
// yaml.v3 does), then ones it must leave to yaml.v3.
var fastYAMLCases = []string{
	"layout: post\ntitle: \"Finishing my Data Career Masterplan\"\ndate: 2023-10-06 04:00:00\ndescription: Thoughts after being a D. Engineer\ntags: ['Career']\n",
	"title: T\ntags: [a, b,c , 'd e', \"f\"]\ncategories: x y\n",
	"title: T\ntags:\n  - a\n  - 'b c'\n\n  - \"d\"\n# comment\nauthor: Ada\n",
	"title: 'It''s'\ndate: 2024-01-02T03:04:05+02:00\n",
	"title: T\ndescription:\nimage: https://example.com/a.png\npublished: false\nupdated: ~\n",
	"title: Ünïcödé — 日本語 ✓\n",
	"title: a-b_c.d/e?f=g&h\n",
	"title: T   \n   \ntags: []\n",
	"title: T\n",
}

var slowYAMLCases = []string{
	"title: T # comment\n",
	"title: >\n  folded\n",
	"title: \"esc\\\"aped\"\n",
	"title: T\nauthor:\n  name: Ada\n",
	"title: &a T\nx: *a\n",
	"title:\ttab\n",
	"title: a: b\n",
	"- a\n",
	"tags:\n- a\n",
	"title: T\ntags: [a, [b]]\n",
	"title: T\ntags: ['a''b']\n",
	"title: [a, b\n",
	"\"title\": T\n",
	"title: multi\n  line\n",
	"",
	"# only a comment\n",
}

func TestFastYAML(t *testing.T) {
	for _, s := range fastYAMLCases {
		fast, ok := fastYAML([]byte(s))
		if !ok {
			t.Errorf("fast path refused %q", s)
			continue
		}
		slow, err := decodeYAML([]byte(s))
		if err != nil {
			t.Errorf("yaml.v3 rejects %q: %v", s, err)
			continue
		}
		if d := sameYAML(&fast, &slow, ""); d != "" {
			t.Errorf("%q: fast path and yaml.v3 differ: %s", s, d)
		}
	}
	for _, s := range slowYAMLCases {
		if _, ok := fastYAML([]byte(s)); ok {
			t.Errorf("fast path took %q, which only yaml.v3 reads right", s)
		}
	}
}
