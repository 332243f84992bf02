package feed

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseJekyllConfig(t *testing.T) {
	yml := `# noise
title: blank
first_name: Ada
middle_name:
last_name: Lovelace
description: >
  A *theme* for [academics](https://x.org)
  and ` + "`code`" + `.
url: https://example.org
baseurl: /blog/
author:
  name: Ada L.
  email: ada@example.org
  uri: https://example.org/me/
lang: de
timezone: Asia/Kolkata
permalink: pretty
excerpt_separator: "<!--more-->"
future: true
show_drafts: true
scholar: {style: apa}
unknown_list: [1, 2]
defaults:
  - scope: {path: "", type: posts}
    values: {author: Def Ault, published: false}
  - scope: {path: "", type: pages}
    values: {author: Page Person}
feed:
  path: /atom.xml
  posts_limit: 5
  excerpt_only: true
  categories: [news, talks]
  tags:
    path: alt/
    except: [private]
`
	j, err := parseJekyllConfig("/srv/blog", "/srv/blog/_config.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	site, posts, feeds := DefaultSite(), DefaultPosts(), DefaultFeeds()
	srcs := j.Apply(&site, &posts, &feeds, func(k string) bool { return k == "site.language" })
	if site.Title != "Ada Lovelace" || site.URL != "https://example.org" || site.BaseURL != "/blog/" ||
		site.Description != "A theme for academics and code." || site.Author != "Ada L." || site.Email != "ada@example.org" ||
		site.authorURI != "https://example.org/me/" || site.Timezone != "Asia/Kolkata" || site.Permalink != "pretty" ||
		site.ExcerptSeparator != "<!--more-->" || !site.Future {
		t.Errorf("site = %+v", site)
	}
	if site.Language != "en" {
		t.Errorf("site.language = %q: config.toml set it, _config.yml must not win", site.Language)
	}
	if posts.Dir != "/srv/blog" {
		t.Errorf("posts.dir = %q", posts.Dir)
	}
	if feeds.Atom != "atom.xml" || feeds.RSS != "rss.xml" || feeds.JSON != "feed.json" || feeds.IDs != IDsJekyll ||
		feeds.Limit != 5 || feeds.FullContent || !slices.Equal(feeds.Categories, []string{"news", "talks"}) ||
		feeds.ByTag != "alt/" || !slices.Equal(feeds.ByTagExcept, []string{"private"}) {
		t.Errorf("feeds = %+v", feeds)
	}
	if len(site.defaults) != 1 {
		t.Errorf("defaults = %d, want the one whose scope covers posts", len(site.defaults))
	}
	var lines []string
	for _, s := range srcs {
		lines = append(lines, s.String())
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		`site.title = "Ada Lovelace" (from /srv/blog/_config.yml:3)`,
		`site.url = "https://example.org" (from /srv/blog/_config.yml:9)`,
		`site.language = "en" (from config.toml)`,
		`feeds.limit = 5 (from /srv/blog/_config.yml:30)`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("sources lack %q:\n%s", want, all)
		}
	}
}

func TestParseJekyllConfigErrors(t *testing.T) {
	for _, tt := range []struct{ yml, want string }{
		{"title: x\nurl: [a\n", "_config.yml:2: invalid YAML"},
		{"- a\n- b\n", "_config.yml:1: must be a YAML mapping"},
		{"feed:\n  posts_limit: many\n", "_config.yml:2: feed.posts_limit"},
		{"future: maybe\n", "_config.yml:1: future"},
	} {
		_, err := parseJekyllConfig("d", "d/_config.yml", []byte(tt.yml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want %q", tt.yml, err, tt.want)
		}
	}
	if _, err := ReadJekyllConfig(t.TempDir()); err == nil || !strings.Contains(err.Error(), "site.jekyll") {
		t.Errorf("no _config.yml: err = %v", err)
	}
}

func TestJekyllPostID(t *testing.T) {
	for _, tt := range []struct{ url, baseurl, postURL, slug, id, want string }{
		{"https://example.com", "", "https://example.com/blog/2023/finishing-my-data-career-masterplan/", "finishing-my-data-career-masterplan", "", "https://example.com/blog/2023/finishing-my-data-career-masterplan"},
		{"https://example.com", "", "https://example.com/custom/path/", "custom-permalink", "", "https://example.com/custom/custom-permalink"},
		{"https://example.com", "/blog", "https://example.com/blog/2023/10/06/x.html", "x", "", "https://example.com/blog/2023/10/06/x"},
		{"https://example.com", "", "https://example.com/about/", "about-me", "", "https://example.com/about-me"},
		{"https://example.com", "", "https://example.com/2024/caf%C3%A9/", "café", "", "https://example.com/2024/caf%C3%A9"},
		{"https://example.com", "", "https://example.com/a/b/", "b", "urn:x:1", "urn:x:1"},
	} {
		site := &Site{URL: tt.url, BaseURL: tt.baseurl}
		p := &Post{URL: tt.postURL, Slug: tt.slug, ID: tt.postURL}
		if tt.id != "" {
			p.ID = tt.id
		}
		if got := jekyllPostID(site, p); got != tt.want {
			t.Errorf("jekyllPostID(%s) = %s, want %s", tt.postURL, got, tt.want)
		}
	}
}

func TestSmartifyAndTitles(t *testing.T) {
	for in, want := range map[string]string{
		`Finishing my data career "masterplan" -- part 2`: "Finishing my data career “masterplan” – part 2",
		`Don't stop... 'til the '90s --- ok`:              "Don’t stop… ‘til the ’90s — ok",
		`plain`:                                           "plain",
	} {
		if got := smartify(in); got != want {
			t.Errorf("smartify(%q) = %q, want %q", in, got, want)
		}
	}
	if got := titleFromSlug("no-title-here"); got != "No Title Here" {
		t.Errorf("titleFromSlug = %q", got)
	}
	if got := oneLine("a\r\nb\n  c "); got != "a b c" {
		t.Errorf("oneLine = %q", got)
	}
}

// TestJekyllPosts reads posts as Jekyll does with site.jekyll: defaults,
// titles from file names, unquoted zone-less dates in UTC, +530 offsets,
// only files in _posts folders, links to pages.
func TestJekyllPosts(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"_config.yml": "url: https://example.com\ntimezone: Europe/Berlin\npermalink: /:categories/:title/\n" +
			"defaults:\n  - scope: {path: \"\"}\n    values: {author: Default Author, tags: [x]}\n" +
			"  - scope: {path: \"talks\"}\n    values: {categories: [talks], author: Talker}\n",
		"_posts/2024-05-05-no-title-here.md": "---\ndate: 2024-05-05 08:00:00\n---\nSee [about]({% link _pages/about.md %}) and [x]({% link other.md %}).\n",
		"_posts/2024-05-06-quoted.md":        "---\ntitle: \"Quoted\\r\\nand folded\"\ndate: \"2024-05-06 08:00:00\"\nauthor: Own\n---\nx\n",
		"_posts/2022-12-17-india.md":         "---\ntitle: India\ndate: 2022-12-17 20:00:00+530\n---\nx\n",
		"talks/_posts/2024-01-01-a-talk.md":  "---\ntitle: A talk\n---\nx\n",
		"2024-01-01-not-a-post.md":           "---\ntitle: Not a post\n---\nx\n",
		"_pages/about.md":                    "---\npermalink: /about-me/\n---\n",
		"other.md":                           "---\ntitle: Other\n---\n",
		"_drafts/2024-01-01-draft.md":        "---\ntitle: Draft\n---\n",
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	j, err := ReadJekyllConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	site, posts, feeds := DefaultSite(), DefaultPosts(), DefaultFeeds()
	site.Jekyll = dir
	site.Title = "T"
	j.Apply(&site, &posts, &feeds, nil)
	if err := site.Validate(); err != nil {
		t.Fatal(err)
	}
	l := NewLoader(&site, posts.Dir, nil)
	snap, err := l.Scan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*Post{}
	for _, p := range snap.Posts {
		got[p.Path] = p
	}
	if len(got) != 4 || got["2024-01-01-not-a-post.md"] != nil {
		t.Fatalf("posts = %v, want the four in _posts folders", slices.Collect(func(yield func(string) bool) {
			for k := range got {
				yield(k)
			}
		}))
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	check := func(path, title, author, date, url string, tags, cats []string) {
		t.Helper()
		p := got[path]
		if p == nil {
			t.Errorf("%s: missing", path)
			return
		}
		if p.Title != title || p.Author != author || p.Date.Format(time.RFC3339) != date || p.URL != url ||
			!slices.Equal(p.Tags, tags) || !slices.Equal(p.Categories, cats) || p.Date.Location().String() != berlin.String() {
			t.Errorf("%s: %q %q %s %s %q %q", path, p.Title, p.Author, p.Date.Format(time.RFC3339), p.URL, p.Tags, p.Categories)
		}
	}
	check("_posts/2024-05-05-no-title-here.md", "No Title Here", "Default Author", "2024-05-05T10:00:00+02:00", "https://example.com/no-title-here/", []string{"x"}, nil)
	check("_posts/2024-05-06-quoted.md", "Quoted and folded", "Own", "2024-05-06T08:00:00+02:00", "https://example.com/quoted/", []string{"x"}, nil)
	check("_posts/2022-12-17-india.md", "India", "Default Author", "2022-12-17T20:00:00+01:00", "https://example.com/india/", []string{"x"}, nil)
	check("talks/_posts/2024-01-01-a-talk.md", "A talk", "Talker", "2024-01-01T00:00:00+01:00", "https://example.com/talks/a-talk/", []string{"x"}, []string{"talks"})
	r, err := l.Render(t.Context(), got["_posts/2024-05-05-no-title-here.md"])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`href="https://example.com/about-me/"`, `href="https://example.com/other/"`} {
		if !strings.Contains(r.HTML, want) {
			t.Errorf("HTML lacks %s:\n%s", want, r.HTML)
		}
	}
}

func TestFeedNames(t *testing.T) {
	site := DefaultSite()
	site.Title, site.URL = "T", "https://example.com"
	if err := site.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		edit func(*FeedsConfig)
		want string
	}{
		{func(c *FeedsConfig) { c.IDs = "guid" }, `feeds.ids: must be "permalink" or "jekyll"`},
		{func(c *FeedsConfig) { c.RSS = "atom.xml" }, `feeds.atom: "atom.xml" is already feeds.rss`},
		{func(c *FeedsConfig) { c.JSON = "../x.json" }, "feeds.json: must be a relative file path"},
		{func(c *FeedsConfig) { c.Atom = "/feed.xml" }, "feeds.atom: must be a relative file path"},
		{func(c *FeedsConfig) { c.RSS, c.Atom, c.JSON = "", "", "" }, "at least one feed"},
		{func(c *FeedsConfig) { c.Categories = []string{"a/../../b"} }, "feeds.categories"},
	} {
		c := DefaultFeeds()
		tt.edit(&c)
		if err := c.Validate(&site); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate = %v, want %q", err, tt.want)
		}
	}
	c := DefaultFeeds()
	c.RSS, c.Atom, c.JSON = "", "feeds/all.atom", "j.json"
	if err := c.Validate(&site); err != nil {
		t.Fatal(err)
	}
	post := &Post{Path: "a.md", Title: "A", Slug: "a", URL: "https://example.com/a/", ID: "https://example.com/a/", Date: time.Unix(1e9, 0), Published: true}
	out, err := Build(&site, &c, []Entry{{Post: post, Rendered: &Rendered{HTML: "<p>x</p>", SummaryHTML: "<p>x</p>", SummaryText: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range out.Files {
		names = append(names, f.Name)
	}
	if !slices.Equal(names, []string{"feeds/all.atom", "j.json"}) {
		t.Errorf("files = %q", names)
	}
	f, _ := out.File("feeds/all.atom")
	for _, want := range []string{`<link href="https://example.com/feeds/all.atom" rel="self"`, "<id>https://example.com/a/</id>"} {
		if !strings.Contains(string(f.Data), want) {
			t.Errorf("atom lacks %s:\n%s", want, f.Data)
		}
	}
	c.IDs = IDsJekyll
	out, err = Build(&site, &c, []Entry{{Post: post, Rendered: &Rendered{HTML: "<p>x</p>", SummaryHTML: "<p>x</p>", SummaryText: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	f, _ = out.File("feeds/all.atom")
	for _, want := range []string{"<id>https://example.com/feeds/all.atom</id>", "<id>https://example.com/a</id>"} {
		if !strings.Contains(string(f.Data), want) {
			t.Errorf("atom with jekyll ids lacks %s:\n%s", want, f.Data)
		}
	}
	if j, _ := out.File("j.json"); !strings.Contains(string(j.Data), `"id": "https://example.com/a"`) && !strings.Contains(string(j.Data), `"id":"https://example.com/a"`) {
		t.Errorf("JSON with jekyll ids:\n%s", j.Data)
	}
}
