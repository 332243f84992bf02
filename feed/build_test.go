package feed

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"herald/feed/testkit"

	"github.com/mmcdole/gofeed"
)

// testSite is a site in a zone with a non-zero offset, set up the way
// Site.Validate leaves it.
func testSite(t testing.TB) *Site {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return &Site{
		Title:       "Data & Careers",
		URL:         "https://blog.example.com",
		Description: "Notes on data engineering, science and ML",
		Author:      "Romulo Drumond",
		Email:       "romulo@example.com",
		Language:    "en",
		Timezone:    "Europe/Berlin",
		Permalink:   "/:year/:month/:day/:title/",
		loc:         loc,
	}
}

func testFeeds() *FeedsConfig {
	return &FeedsConfig{Dir: "public", URL: "https://blog.example.com", Limit: 20, FullContent: true, MaxAge: Duration{5 * time.Minute}}
}

func at(t testing.TB, s string) time.Time {
	t.Helper()
	loc, _ := time.LoadLocation("Europe/Berlin")
	v, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// testEntries are four posts covering the interesting cases: the seed post
// (id = URL, site author), a post with a front-matter id, a later update, a
// guest author, several tags and an image, a post at the very same time as
// the seed (ordered by path), and a post with markup-like text, "]]>" and a
// control character.
func testEntries(t testing.TB) []Entry {
	t.Helper()
	seedURL := "https://blog.example.com/2023/10/06/finishing-my-data-career-masterplan/"
	return []Entry{
		{
			Post: &Post{
				Path: "2023-10-06-finishing-my-data-career-masterplan.md", Name: "2023-10-06-finishing-my-data-career-masterplan",
				Title: "Finishing my Data Career Masterplan", Slug: "finishing-my-data-career-masterplan",
				Date:        at(t, "2023-10-06 04:00:00"),
				Description: "Thoughts after being a D. Engineer, D. Scientist, and ML Engineer",
				Tags:        []string{"Career"}, Categories: []string{"blog"},
				URL: seedURL, ID: seedURL, Published: true,
			},
			Rendered: &Rendered{
				HTML: `<ul><li><a href="` + seedURL + `#1-introduction">1. Introduction</a></li></ul>` + "\n" +
					`<h1 id="1-introduction">1. Introduction</h1>` + "\n" +
					`<p>Math $a_1 &lt; b_2$ stays.</p>` + "\n" +
					`<figure><img src="https://blog.example.com/assets/img/fig1.jpg" alt="Figure 1 - The DS, The DE and The MLE."><figcaption>Figure 1 - The DS, The DE and The MLE.</figcaption></figure>` + "\n",
				SummaryHTML: "Thoughts after being a D. Engineer, D. Scientist, and ML Engineer",
				SummaryText: "Thoughts after being a D. Engineer, D. Scientist, and ML Engineer",
			},
		},
		{
			Post: &Post{
				Path: "2024/2024-02-11-go-feeds.md", Name: "2024-02-11-go-feeds",
				Title: "Writing Feeds in Go", Slug: "go-feeds",
				Date:    at(t, "2024-02-11 09:30:00"),
				Updated: at(t, "2024-03-01 18:00:00"),
				Tags:    []string{"Go", "Web Dev", "go"}, Categories: []string{"programming", "Go"},
				Author: "Guest Writer",
				Image:  "https://blog.example.com/assets/img/go.png",
				URL:    "https://blog.example.com/2024/02/11/go-feeds/",
				ID:     "tag:blog.example.com,2024:go-feeds", Published: true,
			},
			Rendered: &Rendered{
				HTML:        "<p>Feeds are <em>simple</em>.</p>\n<pre><code>x := &lt;-ch\n</code></pre>\n",
				SummaryHTML: "<p>Feeds are <em>simple</em>.</p>",
				SummaryText: "Feeds are simple.",
			},
		},
		{
			Post: &Post{
				Path: "2023-10-06-another-post-same-time.md", Name: "2023-10-06-another-post-same-time",
				Title: "Another Post at the Same Time", Slug: "another-post-same-time",
				Date: at(t, "2023-10-06 04:00:00"),
				URL:  "https://blog.example.com/2023/10/06/another-post-same-time/",
				ID:   "https://blog.example.com/2023/10/06/another-post-same-time/", Published: true,
			},
			Rendered: &Rendered{
				HTML:        "<p>Second post of the day.</p>\n",
				SummaryHTML: "<p>Second post of the day.</p>",
				SummaryText: "Second post of the day.",
			},
		},
		{
			Post: &Post{
				Path: "2023-01-15-escaping.md", Name: "2023-01-15-escaping",
				Title: `Escaping <b> & "quotes" in 2023`, Slug: "escaping",
				Date: at(t, "2023-01-15 23:45:10"),
				Tags: []string{"C++", "Ünïcode Tag"},
				URL:  "https://blog.example.com/2023/01/15/escaping/",
				ID:   "https://blog.example.com/2023/01/15/escaping/", Published: true,
			},
			Rendered: &Rendered{
				HTML:        "<p>CDATA end ]]> inside\x01 and \u00e9t\u00e9 &amp; a <a href=\"https://blog.example.com/2023/01/15/escaping/#x\">link</a>.</p>\n",
				SummaryHTML: "<p>CDATA end ]]&gt; inside and été &amp; a link.</p>",
				SummaryText: "CDATA end ]]> inside and été & a link.",
			},
		},
	}
}

// build runs Build and fails the test on error.
func build(t testing.TB, site *Site, cfg *FeedsConfig, entries []Entry) *Output {
	t.Helper()
	out, err := Build(site, cfg, entries)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return out
}

func fileData(t testing.TB, out *Output, name string) []byte {
	t.Helper()
	f, ok := out.File(name)
	if !ok {
		t.Fatalf("no file %q in output (have %v)", name, fileNames(out))
	}
	return f.Data
}

func fileNames(out *Output) []string {
	var names []string
	for _, f := range out.Files {
		names = append(names, f.Name)
	}
	return names
}

// checkGolden compares got with testdata/golden/<name>, rewriting it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	testkit.Golden(t, filepath.Join("testdata", "golden", filepath.FromSlash(name)), got)
}

func TestBuildGolden(t *testing.T) {
	full := testFeeds()
	summary := testFeeds()
	summary.FullContent = false
	summary.Tags = true
	summary.Hub = "https://hub.example.com/"
	for _, tc := range []struct {
		dir string
		cfg *FeedsConfig
	}{
		{"full", full},
		{"summary-tags-hub", summary},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			out := build(t, testSite(t), tc.cfg, testEntries(t))
			for _, f := range out.Files {
				checkGolden(t, tc.dir+"/"+f.Name, f.Data)
			}
		})
	}
}

func parseFeed(t *testing.T, data []byte) *gofeed.Feed {
	t.Helper()
	f, err := gofeed.NewParser().ParseString(string(data))
	if err != nil {
		t.Fatalf("gofeed: %v\n%s", err, data)
	}
	return f
}

// TestBuildParsesBack reads every feed back with gofeed and checks what a
// reader sees.
func TestBuildParsesBack(t *testing.T) {
	site := testSite(t)
	out := build(t, site, testFeeds(), testEntries(t))
	ordered := testEntries(t)
	// want order: date desc, then path
	order := []int{1, 2, 0, 3}
	for _, tc := range []struct{ name, kind string }{
		{"feed.xml", "rss"}, {"atom.xml", "atom"}, {"feed.json", "json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := parseFeed(t, fileData(t, out, tc.name))
			if f.FeedType != tc.kind {
				t.Errorf("type = %q, want %q", f.FeedType, tc.kind)
			}
			if f.Title != site.Title {
				t.Errorf("title = %q, want %q", f.Title, site.Title)
			}
			if f.Language != "en" {
				t.Errorf("language = %q, want en", f.Language)
			}
			if f.Link != "https://blog.example.com/" {
				t.Errorf("link = %q", f.Link)
			}
			if want := "https://blog.example.com/" + tc.name; f.FeedLink != want {
				t.Errorf("feed (self) link = %q, want %q", f.FeedLink, want)
			}
			if len(f.Authors) == 0 || f.Authors[0].Name != site.Author && tc.kind != "rss" {
				t.Errorf("authors = %+v, want %q", f.Authors, site.Author)
			}
			if tc.kind != "json" { // gofeed takes JSON's feed time from its first item
				if want := at(t, "2024-03-01 18:00:00"); f.UpdatedParsed == nil || !f.UpdatedParsed.Equal(want) {
					t.Errorf("feed updated = %v, want %v", f.UpdatedParsed, want)
				}
			}
			if len(f.Items) != 4 {
				t.Fatalf("%d items, want 4", len(f.Items))
			}
			for i, it := range f.Items {
				e := ordered[order[i]]
				p, r := e.Post, e.Rendered
				if it.Title != p.Title {
					t.Errorf("item %d title = %q, want %q", i, it.Title, p.Title)
				}
				if it.Link != p.URL {
					t.Errorf("item %d link = %q, want %q", i, it.Link, p.URL)
				}
				if it.GUID != p.ID {
					t.Errorf("item %d id = %q, want %q", i, it.GUID, p.ID)
				}
				if it.PublishedParsed == nil || !it.PublishedParsed.Equal(p.Date) {
					t.Errorf("item %d published = %v, want %v", i, it.PublishedParsed, p.Date)
				}
				if tc.kind != "rss" && (it.UpdatedParsed == nil || !it.UpdatedParsed.Equal(p.Modified())) {
					t.Errorf("item %d updated = %v, want %v", i, it.UpdatedParsed, p.Modified())
				}
				if want := postTerms(p); !slices.Equal(it.Categories, want) {
					t.Errorf("item %d categories = %q, want %q", i, it.Categories, want)
				}
				want := r.HTML
				if tc.kind != "json" { // XML cannot hold U+0001: it is dropped
					want = strings.ReplaceAll(want, "\x01", "")
				}
				if it.Content != want {
					t.Errorf("item %d content = %q, want %q", i, it.Content, want)
				}
				wantDesc := r.SummaryHTML
				if tc.kind == "json" {
					wantDesc = r.SummaryText
				}
				if it.Description != wantDesc {
					t.Errorf("item %d description = %q, want %q", i, it.Description, wantDesc)
				}
				// Every item names its author itself, in every format:
				// readers do not show a feed-level author on items.
				wantAuthor := p.Author
				if wantAuthor == "" {
					wantAuthor = site.Author
				}
				var gotAuthor string
				if len(it.Authors) > 0 {
					gotAuthor = it.Authors[0].Name
				}
				if gotAuthor != wantAuthor {
					t.Errorf("item %d author = %q, want %q", i, gotAuthor, wantAuthor)
				}
				if tc.kind == "json" && p.Image != "" && (it.Image == nil || it.Image.URL != p.Image) {
					t.Errorf("item %d image = %+v, want %q", i, it.Image, p.Image)
				}
			}
		})
	}
}

// TestBuildSpecDetails checks the parts of each format that gofeed does not
// expose.
func TestBuildSpecDetails(t *testing.T) {
	cfg := testFeeds()
	cfg.Hub = "https://hub.example.com/"
	out := build(t, testSite(t), cfg, testEntries(t))
	rss := string(fileData(t, out, "feed.xml"))
	atom := string(fileData(t, out, "atom.xml"))
	jsonFeed := string(fileData(t, out, "feed.json"))
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"rss atom ns", rss, `xmlns:atom="http://www.w3.org/2005/Atom"`},
		{"rss content ns", rss, `xmlns:content="http://purl.org/rss/1.0/modules/content/"`},
		{"rss dc ns", rss, `xmlns:dc="http://purl.org/dc/elements/1.1/"`},
		{"rss self", rss, `<atom:link href="https://blog.example.com/feed.xml" rel="self" type="application/rss+xml"></atom:link>`},
		{"rss hub", rss, `<atom:link href="https://hub.example.com/" rel="hub"></atom:link>`},
		{"rss generator", rss, `<generator>Herald</generator>`},
		{"rss lastBuildDate", rss, `<lastBuildDate>Fri, 01 Mar 2024 18:00:00 +0100</lastBuildDate>`},
		{"rss pubDate zone", rss, `<pubDate>Fri, 06 Oct 2023 04:00:00 +0200</pubDate>`},
		{"rss guid permalink", rss, `<guid isPermaLink="true">https://blog.example.com/2023/10/06/finishing-my-data-career-masterplan/</guid>`},
		{"rss guid not permalink", rss, `<guid isPermaLink="false">tag:blog.example.com,2024:go-feeds</guid>`},
		{"rss author email", rss, `<author>romulo@example.com (Romulo Drumond)</author>`},
		{"rss dc creator", rss, `<dc:creator>Guest Writer</dc:creator>`},
		{"rss categories", rss, "<category>Go</category>\n      <category>Web Dev</category>\n      <category>programming</category>"},
		{"atom lang", atom, `xml:lang="en"`},
		{"atom id", atom, `<id>https://blog.example.com/</id>`},
		{"atom self", atom, `<link href="https://blog.example.com/atom.xml" rel="self" type="application/atom+xml"></link>`},
		{"atom alternate", atom, `<link href="https://blog.example.com/" rel="alternate" type="text/html"></link>`},
		{"atom hub", atom, `<link href="https://hub.example.com/" rel="hub"></link>`},
		{"atom category", atom, `<category term="Web Dev"></category>`},
		{"atom published", atom, `<published>2024-02-11T09:30:00+01:00</published>`},
		{"atom updated", atom, `<updated>2024-03-01T18:00:00+01:00</updated>`},
		{"atom content", atom, `<content type="html"><![CDATA[<p>Feeds are`},
		{"atom summary", atom, `<summary type="html">`},
		{"atom generator", atom, `<generator>Herald</generator>`},
		{"json version", jsonFeed, `"version": "https://jsonfeed.org/version/1.1"`},
		{"json feed_url", jsonFeed, `"feed_url": "https://blog.example.com/feed.json"`},
		{"json hubs", jsonFeed, `"hubs": [`},
		{"json unescaped html", jsonFeed, `"content_html": "<p>Feeds are <em>simple</em>.</p>`},
		{"json zone", jsonFeed, `"date_published": "2023-10-06T04:00:00+02:00"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(tc.doc, tc.want) {
				t.Errorf("missing %s\nin:\n%s", tc.want, tc.doc)
			}
		})
	}
	// RSS: description comes before content:encoded in every item.
	for _, item := range strings.Split(rss, "<item>")[1:] {
		d, c := strings.Index(item, "<description>"), strings.Index(item, "<content:encoded>")
		if d < 0 || c < 0 || d > c {
			t.Errorf("item without description before content:encoded:\n%s", item)
		}
	}
	if strings.Contains(atom, "<category>") || strings.Contains(atom, "urn:uuid") {
		t.Errorf("atom has a text category or a random id:\n%s", atom)
	}
	if strings.Contains(jsonFeed, `\u003c`) {
		t.Errorf("json escapes <:\n%s", jsonFeed)
	}
}

func TestBuildEmpty(t *testing.T) {
	cfg := testFeeds()
	out := build(t, testSite(t), cfg, nil)
	if got, want := fileNames(out), []string{"atom.xml", "feed.json", "feed.xml"}; !slices.Equal(got, want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
	var doc map[string]any
	if err := json.Unmarshal(fileData(t, out, "feed.json"), &doc); err != nil {
		t.Fatal(err)
	}
	if items, ok := doc["items"].([]any); !ok || len(items) != 0 {
		t.Errorf("items = %#v, want []", doc["items"])
	}
	if doc["feed_url"] != "https://blog.example.com/feed.json" {
		t.Errorf("feed_url = %v", doc["feed_url"])
	}
	for _, name := range []string{"feed.xml", "atom.xml"} {
		f := parseFeed(t, fileData(t, out, name))
		if len(f.Items) != 0 {
			t.Errorf("%s: %d items", name, len(f.Items))
		}
	}
	if f, _ := out.File("feed.xml"); !f.Modified.IsZero() {
		t.Errorf("empty feed Modified = %v, want zero", f.Modified)
	}
	// Deterministic even when empty: the Atom updated is the epoch, not now.
	if atom := string(fileData(t, out, "atom.xml")); !strings.Contains(atom, "<updated>1970-01-01T01:00:00+01:00</updated>") {
		t.Errorf("empty atom updated:\n%s", atom)
	}
}

func TestBuildDeterministic(t *testing.T) {
	site := testSite(t)
	cfg := testFeeds()
	cfg.Tags = true
	first := build(t, site, cfg, testEntries(t))
	for i := range 5 {
		entries := testEntries(t)
		r := rand.New(rand.NewPCG(uint64(i), 7))
		r.Shuffle(len(entries), func(a, b int) { entries[a], entries[b] = entries[b], entries[a] })
		again := build(t, site, cfg, entries)
		if !slices.Equal(fileNames(first), fileNames(again)) {
			t.Fatalf("files differ: %v vs %v", fileNames(first), fileNames(again))
		}
		for j, f := range first.Files {
			g := again.Files[j]
			if !bytes.Equal(f.Data, g.Data) || f.ETag != g.ETag || !f.Modified.Equal(g.Modified) || f.ContentType != g.ContentType {
				t.Errorf("shuffle %d: %s differs", i, f.Name)
			}
		}
	}
}

func TestBuildFilesMetadata(t *testing.T) {
	cfg := testFeeds()
	cfg.Tags = true
	out := build(t, testSite(t), cfg, testEntries(t))
	if !slices.IsSortedFunc(out.Files, func(a, b File) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("files not sorted: %v", fileNames(out))
	}
	wantTypes := map[string]string{"feed.xml": RSSType, "atom.xml": AtomType, "feed.json": JSONType}
	etags := map[string]bool{}
	for _, f := range out.Files {
		if got, want := f.ContentType, wantTypes[f.Name[strings.LastIndex(f.Name, "/")+1:]]; got != want {
			t.Errorf("%s content type = %q, want %q", f.Name, got, want)
		}
		if !strings.HasPrefix(f.ETag, `"`) || !strings.HasSuffix(f.ETag, `"`) || len(f.ETag) != 34 || etags[f.ETag] {
			t.Errorf("%s etag = %s: want a unique strong quoted hash", f.Name, f.ETag)
		}
		etags[f.ETag] = true
	}
	main, _ := out.File("feed.xml")
	if want := at(t, "2024-03-01 18:00:00"); !main.Modified.Equal(want) {
		t.Errorf("feed.xml modified = %v, want %v", main.Modified, want)
	}
	career, ok := out.File("tags/career/feed.json")
	if !ok {
		t.Fatalf("no tags/career/feed.json in %v", fileNames(out))
	}
	if want := at(t, "2023-10-06 04:00:00"); !career.Modified.Equal(want) {
		t.Errorf("tags/career modified = %v, want %v", career.Modified, want)
	}
	if _, ok := out.File("nope.xml"); ok {
		t.Error("File(nope.xml) found")
	}
}

func TestBuildLimitAndFullContent(t *testing.T) {
	for _, tc := range []struct {
		name      string
		limit     int
		full      bool
		wantItems int
	}{
		{"limit 2 full", 2, true, 2},
		{"limit 0 all", 0, true, 4},
		{"limit 10 summary", 10, false, 4},
		{"limit 1 summary", 1, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testFeeds()
			cfg.Limit, cfg.FullContent = tc.limit, tc.full
			out := build(t, testSite(t), cfg, testEntries(t))
			for _, name := range []string{"feed.xml", "atom.xml", "feed.json"} {
				f := parseFeed(t, fileData(t, out, name))
				if len(f.Items) != tc.wantItems {
					t.Fatalf("%s: %d items, want %d", name, len(f.Items), tc.wantItems)
				}
				if f.Items[0].Title != "Writing Feeds in Go" {
					t.Errorf("%s: first item %q, want the newest", name, f.Items[0].Title)
				}
				content := f.Items[0].Content
				switch {
				case tc.full && !strings.Contains(content, "<pre><code>"):
					t.Errorf("%s: full content missing: %q", name, content)
				case !tc.full && strings.Contains(content, "<pre>"):
					t.Errorf("%s: full content present with full_content=false: %q", name, content)
				}
			}
			jf := string(fileData(t, out, "feed.json"))
			if !tc.full && !strings.Contains(jf, `"content_html": "<p>Feeds are <em>simple</em>.</p>"`) {
				t.Errorf("json: summary not used as content_html:\n%s", jf)
			}
			if rss := string(fileData(t, out, "feed.xml")); !tc.full && strings.Contains(rss, "content:encoded>") {
				t.Errorf("rss has content:encoded with full_content=false")
			}
		})
	}
}

func TestBuildTagFeeds(t *testing.T) {
	cfg := testFeeds()
	cfg.Tags = true
	out := build(t, testSite(t), cfg, testEntries(t))
	want := []string{"atom.xml", "feed.json", "feed.xml"}
	for _, slug := range []string{"c", "career", "go", "web-dev", "ünïcode-tag"} {
		for _, n := range []string{"atom.xml", "feed.json", "feed.xml"} {
			want = append(want, "tags/"+slug+"/"+n)
		}
	}
	slices.Sort(want)
	if got := fileNames(out); !slices.Equal(got, want) {
		t.Fatalf("files:\n got %v\nwant %v", got, want)
	}
	for _, tc := range []struct {
		file, self string
		titles     []string
	}{
		{"tags/go/feed.xml", "https://blog.example.com/tags/go/feed.xml", []string{"Writing Feeds in Go"}},
		{"tags/go/atom.xml", "https://blog.example.com/tags/go/atom.xml", []string{"Writing Feeds in Go"}},
		{"tags/career/feed.json", "https://blog.example.com/tags/career/feed.json", []string{"Finishing my Data Career Masterplan"}},
		{"tags/ünïcode-tag/atom.xml", "https://blog.example.com/tags/%C3%BCn%C3%AFcode-tag/atom.xml", []string{`Escaping <b> & "quotes" in 2023`}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := parseFeed(t, fileData(t, out, tc.file))
			if f.FeedLink != tc.self {
				t.Errorf("self = %q, want %q", f.FeedLink, tc.self)
			}
			var titles []string
			for _, it := range f.Items {
				titles = append(titles, it.Title)
			}
			if !slices.Equal(titles, tc.titles) {
				t.Errorf("titles = %q, want %q", titles, tc.titles)
			}
			if !strings.Contains(f.Title, "Data & Careers") {
				t.Errorf("title = %q", f.Title)
			}
		})
	}
}

func TestTagSlug(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Go", "go"},
		{"Web Dev", "web-dev"},
		{"C++", "c"},
		{"  machine_learning / AI ", "machine-learning-ai"},
		{"Ünïcode Tag", "ünïcode-tag"},
		{"+++", ""},
		{"2023", "2023"},
	} {
		if got := TagSlug(tc.in); got != tc.want {
			t.Errorf("TagSlug(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestBuildErrorsAndDuplicates(t *testing.T) {
	site := testSite(t)
	if _, err := Build(site, testFeeds(), []Entry{{Post: &Post{}}}); err == nil {
		t.Error("entry without Rendered: no error")
	}
	if _, err := Build(nil, testFeeds(), nil); err == nil {
		t.Error("nil site: no error")
	}
	entries := testEntries(t)
	dup := *entries[3].Post
	dup.Path = "zz-dup.md"
	dup.Title = "Duplicate"
	entries = append(entries, Entry{Post: &dup, Rendered: entries[3].Rendered})
	out := build(t, site, testFeeds(), entries)
	f := parseFeed(t, fileData(t, out, "feed.json"))
	if len(f.Items) != 4 {
		t.Errorf("%d items, want 4 (duplicate id dropped)", len(f.Items))
	}
	for _, it := range f.Items {
		if it.Title == "Duplicate" {
			t.Error("the later-sorted duplicate was kept")
		}
	}
}

// TestJSONEncodeMatchesEncodingJSON checks the one-pass JSON writer against
// encoding/json (SetEscapeHTML(false), two-space indent) on the same docs.
func TestJSONEncodeMatchesEncodingJSON(t *testing.T) {
	site := testSite(t)
	entries := testEntries(t)
	odd := *entries[0].Post
	odd.Path, odd.URL, odd.ID = "odd.md", "https://blog.example.com/odd/", "odd \u2028 \u2029 \x00 \x1f \\ \" \t\r\n </script> & é 😀"
	odd.Title = odd.ID
	entries = append(entries, Entry{Post: &odd, Rendered: &Rendered{SummaryText: odd.ID}})
	for _, tc := range []struct {
		name    string
		full    bool
		hub     string
		entries []Entry
	}{
		{"full", true, "", entries},
		{"summary hub", false, "https://hub.example.com/", entries},
		{"empty", true, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testFeeds()
			cfg.FullContent, cfg.Hub, cfg.Tags = tc.full, tc.hub, true
			out := build(t, site, cfg, tc.entries)
			for _, f := range out.Files {
				if !strings.HasSuffix(f.Name, ".json") {
					continue
				}
				var doc jsonDoc
				if err := json.Unmarshal(f.Data, &doc); err != nil {
					t.Fatalf("%s: %v", f.Name, err)
				}
				var want bytes.Buffer
				enc := json.NewEncoder(&want)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				if err := enc.Encode(&doc); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(f.Data, want.Bytes()) {
					t.Errorf("%s: one-pass JSON differs from encoding/json:\n got %s\nwant %s", f.Name, f.Data, want.Bytes())
				}
			}
		})
	}
}

func TestJSONString(t *testing.T) {
	for _, in := range []string{"", "plain", "bad \xff utf8 \xc3", "\u2028\u2029", "ctl \x00\x01\x7f", `<a href="x">&amp;</a>`, "é😀"} {
		var got bytes.Buffer
		jsonString(&got, in)
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.Encode(in)
		if w := string(stdJSONForm(want.Bytes())); got.String()+"\n" != w {
			t.Errorf("jsonString(%q) = %s, want %s", in, got.String(), w)
		}
	}
}
