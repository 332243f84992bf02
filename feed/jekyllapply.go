package feed

import (
	"strconv"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// jekyllKeys is every key Apply may set, in the order `herald check`
// prints them.
var jekyllKeys = []string{
	"site.title", "site.url", "site.baseurl", "site.description", "site.author", "site.email",
	"site.language", "site.timezone", "site.permalink", "site.excerpt_separator", "site.future",
	"posts.dir", "feeds.atom", "feeds.rss", "feeds.json", "feeds.ids", "feeds.limit",
	"feeds.full_content", "feeds.categories", "feeds.by_tag", "feeds.by_tag_only", "feeds.by_tag_except",
}

// Apply fills the settings config.toml left unset (isSet reports the keys
// it set) from the Jekyll site, and sets the Jekyll-mode defaults of the
// [feeds] section: the Atom feed at jekyll-feed's path, RSS at rss.xml,
// JSON at feed.json, jekyll-feed's entry ids and its default of 10 posts.
// It returns where each value came from, in a fixed order.
func (j *JekyllConfig) Apply(site *Site, posts *PostsConfig, feeds *FeedsConfig, isSet func(key string) bool) []Source {
	site.defaults = j.defaults
	if isSet == nil {
		isSet = func(string) bool { return false }
	}
	modeDefaults := map[string]any{
		"feeds.atom": "feed.xml", "feeds.rss": "rss.xml", "feeds.json": "feed.json", "feeds.ids": IDsJekyll, "feeds.limit": 10,
	}
	var out []Source
	for _, key := range jekyllKeys {
		from := "default"
		v, ok := j.values[key]
		switch {
		case isSet(key):
			from = "config.toml"
		case ok:
			from = j.File
			if v.line > 0 {
				from += ":" + strconv.Itoa(v.line)
			}
			if key == "posts.dir" {
				from = "site.jekyll"
			}
			j.set(key, v.v, site, posts, feeds)
		case modeDefaults[key] != nil:
			from = "default with site.jekyll"
			j.set(key, modeDefaults[key], site, posts, feeds)
		}
		out = append(out, Source{Key: key, Value: currentValue(key, site, posts, feeds), From: from})
	}
	if v, ok := j.values["site.author_uri"]; ok {
		site.authorURI = v.v.(string)
	}
	return out
}

func (j *JekyllConfig) set(key string, v any, site *Site, posts *PostsConfig, feeds *FeedsConfig) {
	s, _ := v.(string)
	switch key {
	case "site.title":
		site.Title = s
	case "site.url":
		site.URL = s
	case "site.baseurl":
		site.BaseURL = s
	case "site.description":
		site.Description = s
	case "site.author":
		site.Author = s
	case "site.email":
		site.Email = s
	case "site.language":
		site.Language = s
	case "site.timezone":
		site.Timezone = s
	case "site.permalink":
		site.Permalink = s
	case "site.excerpt_separator":
		site.ExcerptSeparator = s
	case "site.future":
		site.Future = v.(bool)
	case "posts.dir":
		posts.Dir = s
	case "feeds.atom":
		feeds.Atom = s
	case "feeds.rss":
		feeds.RSS = s
	case "feeds.json":
		feeds.JSON = s
	case "feeds.ids":
		feeds.IDs = s
	case "feeds.limit":
		feeds.Limit = v.(int)
	case "feeds.full_content":
		feeds.FullContent = v.(bool)
	case "feeds.categories":
		feeds.Categories = v.([]string)
	case "feeds.by_tag":
		feeds.ByTag = s
	case "feeds.by_tag_only":
		feeds.ByTagOnly = v.([]string)
	case "feeds.by_tag_except":
		feeds.ByTagExcept = v.([]string)
	}
}

func currentValue(key string, site *Site, posts *PostsConfig, feeds *FeedsConfig) string {
	q := strconv.Quote
	list := func(l []string) string {
		qs := make([]string, len(l))
		for i, s := range l {
			qs[i] = q(s)
		}
		return "[" + strings.Join(qs, ", ") + "]"
	}
	switch key {
	case "site.title":
		return q(site.Title)
	case "site.url":
		return q(site.URL)
	case "site.baseurl":
		return q(site.BaseURL)
	case "site.description":
		return q(site.Description)
	case "site.author":
		return q(site.Author)
	case "site.email":
		return q(site.Email)
	case "site.language":
		return q(site.Language)
	case "site.timezone":
		return q(site.Timezone)
	case "site.permalink":
		return q(site.Permalink)
	case "site.excerpt_separator":
		return q(site.ExcerptSeparator)
	case "site.future":
		return strconv.FormatBool(site.Future)
	case "posts.dir":
		return q(posts.Dir)
	case "feeds.atom":
		return q(feeds.Atom)
	case "feeds.rss":
		return q(feeds.RSS)
	case "feeds.json":
		return q(feeds.JSON)
	case "feeds.ids":
		return q(feeds.IDs)
	case "feeds.limit":
		return strconv.Itoa(feeds.Limit)
	case "feeds.full_content":
		return strconv.FormatBool(feeds.FullContent)
	case "feeds.categories":
		return list(feeds.Categories)
	case "feeds.by_tag":
		return q(feeds.ByTag)
	case "feeds.by_tag_only":
		return list(feeds.ByTagOnly)
	case "feeds.by_tag_except":
		return list(feeds.ByTagExcept)
	}
	return ""
}

// markdownText is Markdown (a site description) as plain text on one line:
// links become their text, emphasis and code marks go.
func markdownText(s string) string {
	src := []byte(s)
	doc := goldmark.New().Parser().Parse(text.NewReader(src))
	var b []byte
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			if n.Type() == ast.TypeBlock {
				b = append(b, ' ')
			}
			return ast.WalkContinue, nil
		}
		switch t := n.(type) {
		case *ast.Text:
			b = append(b, t.Segment.Value(src)...)
			if t.SoftLineBreak() || t.HardLineBreak() {
				b = append(b, ' ')
			}
		case *ast.String:
			b = append(b, t.Value...)
		case *ast.CodeSpan:
			for c := t.FirstChild(); c != nil; c = c.NextSibling() {
				if tx, ok := c.(*ast.Text); ok {
					b = append(b, tx.Segment.Value(src)...)
				}
			}
			return ast.WalkSkipChildren, nil
		case *ast.RawHTML, *ast.HTMLBlock:
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return strings.Join(strings.Fields(string(b)), " ")
}
