package feed

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Feed file names and content types.
const (
	RSSName  = "feed.xml"
	AtomName = "atom.xml"
	JSONName = "feed.json"

	RSSType  = "application/rss+xml; charset=utf-8"
	AtomType = "application/atom+xml; charset=utf-8"
	JSONType = "application/feed+json; charset=utf-8"

	// Generator is written in every feed's generator element. It carries no
	// version so that upgrading Herald does not change the bytes of feeds.
	Generator = "Herald"
)

// errBuild is the prefix of Build's argument errors.
var errBuild = errors.New("feed: build")

// item is one entry with everything the three writers need computed once:
// the XML-safe strings are shared by RSS, Atom and every tag feed.
type item struct {
	post  *Post
	r     *Rendered
	id    string
	terms []string // tags then categories, deduplicated
	title string   // one line; smartified for jekyll-feed compatibility

	xTitle, xSummary, xHTML, xAuthor string // XML-safe; xHTML only with full content
	xTerms                           []string
}

func newItem(e Entry, site *Site, cfg *FeedsConfig) *item {
	it := &item{
		post:     e.Post,
		r:        e.Rendered,
		id:       postID(e.Post),
		terms:    postTerms(e.Post),
		xTitle:   xmlSafe(oneLine(e.Post.Title)),
		xSummary: xmlSafe(e.Rendered.SummaryHTML),
		xAuthor:  xmlSafe(oneLine(e.Post.Author)),
	}
	if cfg.IDs == IDsJekyll {
		it.id = jekyllPostID(site, e.Post)
	}
	it.title = oneLine(e.Post.Title)
	if cfg.IDs == IDsJekyll || site.Jekyll != "" {
		it.title = smartify(it.title) // jekyll-feed: post.title | smartify
		it.xTitle = xmlSafe(it.title)
	}
	if cfg.FullContent {
		it.xHTML = xmlSafe(e.Rendered.HTML)
	}
	it.xTerms = make([]string, len(it.terms))
	for i, t := range it.terms {
		it.xTerms[i] = xmlSafe(t)
	}
	return it
}

// size is a rough upper estimate of the bytes the item takes in one feed.
func (it *item) size() int {
	return 1024 + len(it.xTitle) + 2*len(it.xSummary) + len(it.r.SummaryText) + len(it.xHTML) + len(it.xHTML)/8
}

// feedDoc is everything one set of feed files (the main feeds, one tag's
// feeds, or one of jekyll-feed's category or tag feeds) needs, computed
// once and shared by the RSS, Atom and JSON writers.
type feedDoc struct {
	site      *Site
	cfg       *FeedsConfig
	loc       *time.Location
	title     string
	desc      string
	home      string // site home page, with a trailing slash
	id        string // Atom feed id; never changes
	feedsURL  string // feeds.url, no trailing slash
	rss       string // file names ("tags/go/feed.xml"); "" = not written
	atom      string
	json      string
	sub       bool // a tag or category feed
	items     []*item
	updated   time.Time // newest entry's Modified(), in loc; epoch when empty
	published time.Time // newest entry's Date, in loc; epoch when empty
	estimate  int       // rough size of one file, to size its buffer once
}

// selfURL is the URL the feed file called name is published at.
func (d *feedDoc) selfURL(name string) string {
	var b strings.Builder
	b.WriteString(d.feedsURL)
	b.WriteByte('/')
	escapeURLPath(&b, name, false)
	return b.String()
}

// authorName is the feed-level author: site.author, else the site title.
func (d *feedDoc) authorName() string {
	if d.site.Author != "" {
		return d.site.Author
	}
	return d.site.Title
}

// Build turns entries into the feed files named by cfg.RSS (RSS 2.0),
// cfg.Atom (Atom 1.0) and cfg.JSON (JSON Feed 1.1), plus tags/<slug>/…
// (feed.xml, atom.xml, feed.json, for the formats that are on) for every
// tag when cfg.Tags is set, and jekyll-feed's Atom feeds per category
// (cfg.Categories) and per tag (cfg.ByTag). Entries are ordered by date
// (newest first), then path; only the newest cfg.Limit go in each feed (0 =
// all). The result depends only on its arguments: the same entries in any
// order give the same bytes. Entries with a duplicate Post.ID are dropped
// (the newest is kept). The files are written on up to GOMAXPROCS
// goroutines.
func Build(site *Site, cfg *FeedsConfig, entries []Entry) (*Output, error) {
	jobs, err := plan(site, cfg, entries)
	if err != nil {
		return nil, err
	}
	out := &Output{Files: make([]File, len(jobs))}
	errs := make([]error, len(jobs))
	parallel(len(jobs), func(i int) {
		j := jobs[i]
		buf := bytes.NewBuffer(make([]byte, 0, j.d.estimate))
		if err := j.run(buf); err != nil {
			errs[i] = err
			return
		}
		out.Files[i] = newFile(j.name, j.ctype, buf.Bytes(), lastModified(j.d))
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(out.Files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// job is one feed file to write: a document in one format.
type job struct {
	d           *feedDoc
	name, ctype string
	write       func(*bufio.Writer, *feedDoc) error
}

// run writes the file to w through a buffer of its own.
func (j *job) run(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := j.write(bw, j.d); err != nil {
		return fmt.Errorf("feed: build %s: %w", j.name, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("feed: build %s: %w", j.name, err)
	}
	return nil
}

// plan checks Build's arguments and works out every file to write, the
// largest first; no two have the same name.
func plan(site *Site, cfg *FeedsConfig, entries []Entry) ([]job, error) {
	if site == nil || cfg == nil {
		return nil, fmt.Errorf("%w: nil site or feeds config", errBuild)
	}
	if cfg.Limit < 0 {
		return nil, fmt.Errorf("%w: feeds.limit: must be 0 or more, got %d", errBuild, cfg.Limit)
	}
	if cfg.RSS == "" && cfg.Atom == "" && cfg.JSON == "" { // not validated: the default names
		c := *cfg
		c.RSS, c.Atom, c.JSON = RSSName, AtomName, JSONName
		cfg = &c
	}
	sorted := make([]Entry, 0, len(entries))
	for i, e := range entries {
		if e.Post == nil || e.Rendered == nil {
			return nil, fmt.Errorf("%w: entry %d has no post or no rendered body", errBuild, i)
		}
		sorted = append(sorted, e)
	}
	slices.SortFunc(sorted, compareEntries)
	sorted = dedupeIDs(sorted)
	if !cfg.subFeeds() {
		sorted = limit(sorted, cfg.Limit) // tag feeds may reach further back
	}
	items := make([]*item, len(sorted))
	const chunk = 64
	parallel((len(sorted)+chunk-1)/chunk, func(c int) {
		for i := c * chunk; i < min((c+1)*chunk, len(sorted)); i++ {
			items[i] = newItem(sorted[i], site, cfg)
		}
	})

	loc := site.Location()
	home := homeURL(site)
	feedsURL := strings.TrimRight(cfg.URL, "/")
	if feedsURL == "" {
		feedsURL = strings.TrimRight(site.URL+site.BaseURL, "/")
	}
	desc := site.Description
	if desc == "" {
		desc = site.Title
	}
	names := func(rss, atom, json string) (string, string, string) {
		if cfg.RSS == "" {
			rss = ""
		}
		if cfg.Atom == "" {
			atom = ""
		}
		if cfg.JSON == "" {
			json = ""
		}
		return rss, atom, json
	}
	main := &feedDoc{
		site: site, cfg: cfg, loc: loc, feedsURL: feedsURL,
		title: site.Title, desc: desc, home: home, id: home,
		rss: cfg.RSS, atom: cfg.Atom, json: cfg.JSON,
		items: limit(items, cfg.Limit),
	}
	if cfg.IDs == IDsJekyll && cfg.Atom != "" {
		main.id = main.selfURL(cfg.Atom) // jekyll-feed: {{ page.url | absolute_url }}
	}
	docs := []*feedDoc{main}
	if cfg.Tags {
		for _, t := range collectTags(items) {
			d := &feedDoc{
				site: site, cfg: cfg, loc: loc, feedsURL: feedsURL, sub: true,
				title: fmt.Sprintf("%s: posts tagged %s", site.Title, t.name),
				desc:  fmt.Sprintf("Posts tagged %s on %s", t.name, site.Title),
				home:  home,
				id:    home + "tags/" + url.PathEscape(t.slug) + "/",
				items: limit(t.items, cfg.Limit),
			}
			d.rss, d.atom, d.json = names("tags/"+t.slug+"/"+RSSName, "tags/"+t.slug+"/"+AtomName, "tags/"+t.slug+"/"+JSONName)
			docs = append(docs, d)
		}
	}
	docs = append(docs, jekyllSubFeeds(main, items)...)

	jobs := make([]job, 0, 3*len(docs))
	for _, d := range docs {
		d.updated, d.published = time.Unix(0, 0).In(loc), time.Unix(0, 0).In(loc)
		if len(d.items) > 0 {
			d.published = d.items[0].post.Date.In(loc)
			d.updated = d.published
			for _, it := range d.items {
				if m := it.post.Modified(); m.After(d.updated) {
					d.updated = m.In(loc)
				}
			}
		}
		d.estimate = 4096
		for _, it := range d.items {
			d.estimate += it.size()
		}
		// the largest first: JSON escapes the most
		if d.json != "" {
			jobs = append(jobs, job{d, d.json, JSONType, writeJSON})
		}
		if d.rss != "" {
			jobs = append(jobs, job{d, d.rss, RSSType, writeRSS})
		}
		if d.atom != "" {
			jobs = append(jobs, job{d, d.atom, AtomType, writeAtom})
		}
	}

	files := make([]string, len(jobs))
	for i, j := range jobs {
		files[i] = j.name
	}
	slices.Sort(files)
	for i := 1; i < len(files); i++ {
		if files[i] == files[i-1] {
			return nil, fmt.Errorf("%w: two feeds named %s (check feeds.rss, feeds.atom, feeds.json, feeds.categories, feeds.by_tag)", errBuild, files[i])
		}
	}
	return jobs, nil
}

// parallel calls fn(0) … fn(n-1) on up to GOMAXPROCS goroutines and waits.
// Larger jobs should come first: they are taken in index order.
func parallel(n int, fn func(i int)) { parallelOn(runtime.GOMAXPROCS(0), n, fn) }

// parallelOn is parallel on up to workers goroutines.
func parallelOn(workers, n int, fn func(i int)) {
	workers = min(workers, n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// lastModified is the File.Modified of a feed: zero when it has no entries.
func lastModified(d *feedDoc) time.Time {
	if len(d.items) == 0 {
		return time.Time{}
	}
	return d.updated
}

// newFile wraps data with its content type, a strong ETag and a
// modification time.
func newFile(name, ctype string, data []byte, modified time.Time) File {
	sum := sha256.Sum256(data)
	return File{
		Name:        name,
		Data:        data,
		ContentType: ctype,
		ETag:        `"` + hex.EncodeToString(sum[:16]) + `"`,
		Modified:    modified,
	}
}

// File returns the file called name ("feed.xml", "tags/go/atom.xml").
func (o *Output) File(name string) (File, bool) {
	if o == nil {
		return File{}, false
	}
	i, ok := slices.BinarySearchFunc(o.Files, name, func(f File, n string) int { return strings.Compare(f.Name, n) })
	if ok {
		return o.Files[i], true
	}
	for _, f := range o.Files { // in case Files was not sorted by its maker
		if f.Name == name {
			return f, true
		}
	}
	return File{}, false
}

// compareEntries orders entries newest first, then by path, then by id.
func compareEntries(a, b Entry) int {
	if c := b.Post.Date.Compare(a.Post.Date); c != 0 {
		return c
	}
	if c := strings.Compare(a.Post.Path, b.Post.Path); c != 0 {
		return c
	}
	return strings.Compare(a.Post.ID, b.Post.ID)
}

// dedupeIDs drops every entry whose id an earlier entry already has.
func dedupeIDs(sorted []Entry) []Entry {
	seen := make(map[string]bool, len(sorted))
	out := sorted[:0]
	for _, e := range sorted {
		id := postID(e.Post)
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, e)
	}
	return out
}

func limit[T any](list []T, n int) []T {
	if n > 0 && len(list) > n {
		return list[:n]
	}
	return list
}

// postID is the post's stable id: Post.ID, else its URL.
func postID(p *Post) string {
	if p.ID != "" {
		return p.ID
	}
	return p.URL
}

// homeURL is the site's home page with a trailing slash.
func homeURL(site *Site) string {
	return strings.TrimRight(site.URL+site.BaseURL, "/") + "/"
}
