package feed

import (
	"fmt"
	"time"
)

// Site is the [site] section of the configuration.
type Site struct {
	Title       string `toml:"title"`
	URL         string `toml:"url"`     // absolute, no trailing slash after validation
	BaseURL     string `toml:"baseurl"` // Jekyll's site.baseurl, "" or "/path"
	Description string `toml:"description"`
	Author      string `toml:"author"`
	Email       string `toml:"email"`
	Language    string `toml:"language"`
	Timezone    string `toml:"timezone"`
	Permalink   string `toml:"permalink"`

	// Jekyll is a Jekyll source folder whose _config.yml fills the keys
	// this file leaves unset (see JekyllConfig.Apply); "" for none.
	Jekyll string `toml:"jekyll"`
	// ExcerptSeparator is the site-wide excerpt_separator, for posts
	// without their own; "" = the first paragraph.
	ExcerptSeparator string `toml:"excerpt_separator"`
	// Future publishes future-dated posts at once (Jekyll's future: true);
	// false: a post is published at its date.
	Future bool `toml:"future"`

	loc       *time.Location // set by Validate
	authorURI string         // the author's uri from _config.yml
	defaults  []postDefault  // front-matter defaults from _config.yml
}

// PostsConfig is the [posts] section of the configuration.
type PostsConfig struct {
	Dir string `toml:"dir"`
	// MaxSize: a post file bigger than this is reported and skipped
	// (default 4MB).
	MaxSize Size `toml:"max_size"`
	// RenderTimeout bounds the time one post may take to render for a
	// scan: a slower post is left out of the feeds (and reported) until
	// its rendering, which goes on, is done (default 10s).
	RenderTimeout Duration `toml:"render_timeout"`
}

// FeedsConfig is the [feeds] section of the configuration.
type FeedsConfig struct {
	Dir         string   `toml:"dir"`          // where the feed files are written
	URL         string   `toml:"url"`          // absolute base URL the feed files are published under; default site.url+baseurl
	Limit       int      `toml:"limit"`        // newest N posts; 0 = all
	FullContent bool     `toml:"full_content"` // false = summary only
	Tags        bool     `toml:"tags"`         // also write tags/<tag>/feed.xml, atom.xml, feed.json
	Hub         string   `toml:"hub"`          // WebSub hub URL, "" = none
	MaxAge      Duration `toml:"max_age"`      // Cache-Control max-age of served feeds

	// File names (and URL paths below URL) of the three feeds; "" turns
	// one off. Defaults: feed.xml, atom.xml, feed.json; with site.jekyll:
	// rss.xml, jekyll-feed's path (feed.xml), feed.json.
	RSS  string `toml:"rss"`
	Atom string `toml:"atom"`
	JSON string `toml:"json"`
	// IDs chooses entry ids: IDsPermalink (the post's URL, or its id:) or
	// IDsJekyll (what jekyll-feed writes: post.id made absolute).
	IDs string `toml:"ids"`
	// jekyll-feed's extra feeds, Atom only: one per category at
	// feed/CATEGORY.xml, and with ByTag (a path such as "feed/by_tag/") one
	// per tag at ByTag+TAG+".xml" (ByTagOnly: only these tags; ByTagExcept:
	// not these).
	Categories  []string `toml:"categories"`
	ByTag       string   `toml:"by_tag"`
	ByTagOnly   []string `toml:"by_tag_only"`
	ByTagExcept []string `toml:"by_tag_except"`
}

// Entry id styles (feeds.ids).
const (
	IDsPermalink = "permalink"
	IDsJekyll    = "jekyll"
)

// Duration is a time.Duration that decodes from a TOML string such as "72h"
// or "30s".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (use a form like \"30s\", \"15m\", \"72h\")", b)
	}
	d.Duration = v
	return nil
}

// MarshalText formats the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Post is one post's metadata, from its file name and front matter. It does
// not hold the body: Loader.Render reads and renders it on demand.
type Post struct {
	Path    string    // relative to the posts folder, slash-separated ("2023/2023-10-06-slug.md")
	File    string    // OS path to read the file from
	Name    string    // base name without extension ("2023-10-06-slug"), what {% post_url %} names
	Size    int64     // file size in bytes
	ModTime time.Time // file modification time
	Hash    string    // hex SHA-256 of the file bytes

	Title            string
	Slug             string    // from the file name, or front-matter slug
	Date             time.Time // in the site's location
	Updated          time.Time // updated / last_modified_at; zero when not set
	Description      string
	ExcerptSeparator string
	Tags             []string
	Categories       []string
	Author           string
	Image            string // absolute URL, "" when none
	URL              string // absolute permalink
	ID               string // stable id: front-matter id, else URL
	Published        bool   // false for published: false or draft: true
	Newsletter       bool   // false for newsletter: false
	Future           bool   // site.future: due at once, whatever its date
	BodyLine         int    // 1-based line of the file where the body starts

	// mtimeTrusted: the file's mtime was old enough when it was read that
	// an unchanged size and mtime mean unchanged bytes (see Loader.body).
	mtimeTrusted bool
}

// Due reports whether the post belongs in the feeds at now: published and
// its date has passed (or site.future is set).
func (p *Post) Due(now time.Time) bool { return p.Published && (p.Future || !p.Date.After(now)) }

// Modified is the post's last modification time for feeds: Updated when set
// and later than Date, else Date.
func (p *Post) Modified() time.Time {
	if p.Updated.After(p.Date) {
		return p.Updated
	}
	return p.Date
}

// Problem is an error or warning about one post, with its file and line.
type Problem struct {
	File    string // path as given to the user (posts dir joined with Post.Path)
	Line    int    // 1-based; 0 when unknown
	Msg     string
	Warning bool // false: the post was skipped
}

// Error formats the problem as "file:line: message".
func (p Problem) Error() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Msg)
}

// Snapshot is the result of one scan of the posts folder.
type Snapshot struct {
	Posts    []*Post   // every post that parsed, drafts and future posts included; sorted date desc, then Path asc
	Problems []Problem // errors (post skipped) and warnings, sorted by file then line
}

// Rendered is a post's body rendered for feeds.
type Rendered struct {
	HTML        string // full body: absolute URLs, no <style>/<script>, Liquid resolved
	SummaryHTML string // description (escaped), else the excerpt, as HTML
	SummaryText string // the same as plain text, one paragraph
}

// Section is the part of a post that is emailed (the TLDR), rendered.
type Section struct {
	Heading  string // the heading text that matched; "" for a fallback
	HTML     string // rendered like Rendered.HTML
	Text     string // plain text: links as numbered references, readable lists
	Fallback bool   // true when the post had no such heading (description or excerpt used)
	// Truncated: the section was longer than asked for; HTML and Text
	// hold its start, and the reader should be sent to the post.
	Truncated bool
}

// Entry is one post ready to go into a feed.
type Entry struct {
	Post     *Post
	Rendered *Rendered
}

// File is one generated feed file.
type File struct {
	Name        string // relative to the feeds folder, slash-separated: "feed.xml", "tags/go/atom.xml"
	Data        []byte
	ContentType string    // "application/rss+xml; charset=utf-8" etc.
	ETag        string    // strong, quoted, from a hash of Data
	Modified    time.Time // Last-Modified: when the bytes last changed once stamped (Output.Stamp); before, the newest entry's time
}

// Output is the complete set of generated feed files, sorted by Name.
type Output struct {
	Files []File
}
