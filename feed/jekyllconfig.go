package feed

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
	"gopkg.in/yaml.v3"
)

// maxJekyllConfig bounds the size of a _config.yml Herald reads.
const maxJekyllConfig = 1 << 20

// JekyllConfig is what Herald takes from a Jekyll site's _config.yml: the
// settings that mean something for feeds and mail, each with the line it
// came from. Unknown keys are ignored (every Jekyll site has dozens).
type JekyllConfig struct {
	Dir  string // the Jekyll source folder
	File string // its _config.yml

	values   map[string]jekyllValue // by Herald key ("site.url")
	defaults []postDefault
}

// jekyllValue is one setting taken from _config.yml.
type jekyllValue struct {
	v    any // string, bool, int or []string
	line int
}

// postDefault is one entry of Jekyll's front-matter defaults whose scope
// covers posts: values for keys a post's front matter does not set.
type postDefault struct {
	path string // scope path ("" = every post), slash-separated, relative to the site
	node *yaml.Node
}

// Source is where one configuration value came from, for `herald check`.
type Source struct {
	Key   string // "site.url"
	Value string
	From  string // "config.toml", "_config.yml:13" (the file's path), "default"
}

// String formats the source as `site.url = "https://…" (from _config.yml:13)`.
func (s Source) String() string {
	return fmt.Sprintf("%s = %s (from %s)", s.Key, s.Value, s.From)
}

// ReadJekyllConfig reads dir/_config.yml. A file that does not parse is an
// error naming the file and line; a missing file is an error too (dir is
// then not a Jekyll site).
func ReadJekyllConfig(dir string) (*JekyllConfig, error) {
	file := filepath.Join(dir, "_config.yml")
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("site.jekyll: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJekyllConfig+1))
	if err != nil {
		return nil, fmt.Errorf("site.jekyll: %w", err)
	}
	if len(data) > maxJekyllConfig {
		return nil, fmt.Errorf("%s: larger than %d bytes", file, maxJekyllConfig)
	}
	return parseJekyllConfig(dir, file, data)
}

func parseJekyllConfig(dir, file string, data []byte) (*JekyllConfig, error) {
	doc, err := decodeYAML(data)
	if err != nil {
		n, msg := yamlLine(err)
		if n > 0 {
			return nil, fmt.Errorf("%s:%d: invalid YAML: %s", file, n, msg)
		}
		return nil, fmt.Errorf("%s: invalid YAML: %s", file, msg)
	}
	j := &JekyllConfig{Dir: dir, File: file, values: map[string]jekyllValue{}}
	var root *yaml.Node
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root = deref(doc.Content[0])
	}
	if root == nil || isNull(root) {
		return j, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: must be a YAML mapping of keys to values", file, root.Line)
	}
	top := map[string]*yaml.Node{}
	lines := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := deref(root.Content[i]), deref(root.Content[i+1])
		if k == nil || v == nil || k.Kind != yaml.ScalarNode {
			continue
		}
		top[k.Value], lines[k.Value] = v, k.Line
	}
	str := func(key string) (string, int, bool) {
		v := top[key]
		s, ok := scalar(v)
		if !ok || v == nil || isNull(v) {
			return "", 0, false
		}
		return strings.TrimSpace(s), lines[key], true
	}
	set := func(hkey string, v any, line int) { j.values[hkey] = jekyllValue{v, line} }

	// title; al-folio writes "title: blank" for "use my full name".
	if s, line, ok := str("title"); ok && s != "" && s != "blank" {
		set("site.title", s, line)
	} else {
		var parts []string
		first := 0
		for _, k := range []string{"first_name", "middle_name", "last_name"} {
			if p, l, ok := str(k); ok && p != "" {
				parts = append(parts, p)
				if first == 0 {
					first = l
				}
			}
		}
		switch {
		case len(parts) > 0:
			set("site.title", strings.Join(parts, " "), first)
		default:
			if n, l, ok := str("name"); ok && n != "" { // jekyll-feed: site.title | default: site.name
				set("site.title", n, l)
			}
		}
	}
	for _, m := range [][2]string{
		{"url", "site.url"}, {"baseurl", "site.baseurl"}, {"email", "site.email"},
		{"lang", "site.language"}, {"timezone", "site.timezone"}, {"permalink", "site.permalink"},
	} {
		if s, line, ok := str(m[0]); ok && s != "" {
			set(m[1], s, line)
		}
	}
	if v := top["excerpt_separator"]; v != nil && v.Kind == yaml.ScalarNode && !isNull(v) {
		set("site.excerpt_separator", v.Value, lines["excerpt_separator"]) // not trimmed: "\n\n" is Jekyll's default
	}
	if s, line, ok := str("description"); ok && s != "" {
		set("site.description", markdownText(s), line)
	}
	if v := top["author"]; v != nil && !isNull(v) {
		line := lines["author"]
		switch v.Kind {
		case yaml.ScalarNode:
			set("site.author", strings.TrimSpace(v.Value), line)
		case yaml.MappingNode:
			if s := mapString(v, "name"); s != "" {
				set("site.author", s, line)
			}
			if s := mapString(v, "email"); s != "" {
				if _, ok := j.values["site.email"]; !ok {
					set("site.email", s, line)
				}
			}
			if s := mapString(v, "uri"); s != "" {
				set("site.author_uri", s, line)
			}
		}
	}
	if v := top["future"]; v != nil && !isNull(v) {
		if b, ok := boolean(v); ok {
			set("site.future", b, lines["future"])
		} else {
			return nil, fmt.Errorf("%s:%d: future: must be true or false", file, lines["future"])
		}
	}
	if d := top["defaults"]; d != nil && d.Kind == yaml.SequenceNode {
		j.defaults = postDefaults(d)
	}
	j.values["posts.dir"] = jekyllValue{dir, 0}
	if err := j.readFeedBlock(top["feed"], lines["feed"]); err != nil {
		return nil, fmt.Errorf("%s:%w", file, err)
	}
	return j, nil
}

// readFeedBlock maps jekyll-feed's own settings to Herald's [feeds] keys.
func (j *JekyllConfig) readFeedBlock(v *yaml.Node, line int) error {
	if v == nil || v.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := deref(v.Content[i]), deref(v.Content[i+1])
		if k == nil || val == nil {
			continue
		}
		kl := k.Line
		switch k.Value {
		case "path":
			if s, ok := scalar(val); ok && strings.TrimSpace(s) != "" {
				j.values["feeds.atom"] = jekyllValue{strings.TrimLeft(strings.TrimSpace(s), "/"), kl}
			}
		case "posts_limit":
			n, err := strconv.Atoi(strings.TrimSpace(val.Value))
			if val.Kind != yaml.ScalarNode || err != nil || n < 0 {
				return fmt.Errorf("%d: feed.posts_limit: must be a number of posts, got %q", kl, val.Value)
			}
			j.values["feeds.limit"] = jekyllValue{n, kl}
		case "excerpt_only":
			if b, ok := boolean(val); ok {
				j.values["feeds.full_content"] = jekyllValue{!b, kl}
			}
		case "categories":
			if list, _ := stringList(val, false); len(list) > 0 {
				j.values["feeds.categories"] = jekyllValue{list, kl}
			}
		case "tags":
			switch {
			case val.Kind == yaml.MappingNode:
				j.values["feeds.by_tag"] = jekyllValue{"feed/by_tag/", kl}
				if s := mapString(val, "path"); s != "" {
					j.values["feeds.by_tag"] = jekyllValue{strings.TrimLeft(s, "/"), kl}
				}
				for _, sub := range []string{"only", "except"} {
					for m := 0; m+1 < len(val.Content); m += 2 {
						if kk := deref(val.Content[m]); kk != nil && kk.Value == sub {
							list, _ := stringList(deref(val.Content[m+1]), false)
							j.values["feeds.by_tag_"+sub] = jekyllValue{list, kk.Line}
						}
					}
				}
			default:
				if b, ok := boolean(val); ok && b {
					j.values["feeds.by_tag"] = jekyllValue{"feed/by_tag/", kl}
				}
			}
		}
	}
	return nil
}

// postDefaults keeps the entries of Jekyll's defaults: list whose scope
// covers posts (no type, type "posts"; a path of "", "_posts" or a folder
// holding posts).
func postDefaults(seq *yaml.Node) []postDefault {
	var out []postDefault
	for _, item := range seq.Content {
		item = deref(item)
		if item == nil || item.Kind != yaml.MappingNode {
			continue
		}
		var scope, values *yaml.Node
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := deref(item.Content[i]), deref(item.Content[i+1])
			if k == nil || v == nil {
				continue
			}
			switch k.Value {
			case "scope":
				scope = v
			case "values":
				values = v
			}
		}
		if values == nil || values.Kind != yaml.MappingNode {
			continue
		}
		p, typ := "", ""
		if scope != nil && scope.Kind == yaml.MappingNode {
			p, typ = mapString(scope, "path"), mapString(scope, "type")
		}
		if typ != "" && typ != "posts" {
			continue
		}
		if strings.ContainsAny(p, "*?[") { // a glob: Jekyll matches it against the path
			p = strings.TrimSuffix(p, "*")
		}
		out = append(out, postDefault{path: strings.Trim(path.Clean("/"+p), "/"), node: values})
	}
	return out
}

// defaultsFor returns the defaults' values for a post at rel (its path
// relative to the site, slash-separated), the most specific scope last so
// that it wins.
func defaultsFor(defs []postDefault, rel string) []*yaml.Node {
	var match []postDefault
	for _, d := range defs {
		if d.path == "" || rel == d.path || strings.HasPrefix(rel, d.path+"/") || strings.HasPrefix(rel, d.path) && strings.HasSuffix(d.path, "_") {
			match = append(match, d)
		}
	}
	slices.SortStableFunc(match, func(a, b postDefault) int { return len(a.path) - len(b.path) })
	out := make([]*yaml.Node, len(match))
	for i, d := range match {
		out[i] = d.node
	}
	return out
}

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

// defaultKeys are the front-matter keys Herald takes from Jekyll's
// defaults.
var defaultKeys = map[string]bool{
	"author": true, "tags": true, "categories": true, "tag": true, "category": true,
	"permalink": true, "published": true, "image": true, "newsletter": true, "excerpt_separator": true,
}

// withDefaults returns root (a post's front matter) with the keys of defs
// (least specific first) that it does not set itself.
func withDefaults(root *yaml.Node, defs []*yaml.Node) *yaml.Node {
	if len(defs) == 0 || (root != nil && root.Kind != yaml.MappingNode && !isNull(root)) {
		return root
	}
	has := map[string]bool{}
	merged := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1, Column: 1}
	if root != nil && root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if k := deref(root.Content[i]); k != nil {
				has[k.Value] = true
			}
		}
	}
	// Most specific first, so that it is the one a key is taken from.
	for i := len(defs) - 1; i >= 0; i-- {
		d := defs[i]
		for k := 0; k+1 < len(d.Content); k += 2 {
			key := deref(d.Content[k])
			if key == nil || key.Kind != yaml.ScalarNode || has[key.Value] || !defaultKeys[key.Value] {
				continue
			}
			has[key.Value] = true
			kc := *key
			kc.Line = 0 // not a line of the post's file
			merged.Content = append(merged.Content, &kc, d.Content[k+1])
		}
	}
	if root != nil && root.Kind == yaml.MappingNode {
		merged.Content = append(merged.Content, root.Content...)
	}
	return merged
}

// titleFromSlug is Jekyll's title for a post without one: the file name's
// slug, its words capitalized ("no-title-here" → "No Title Here").
func titleFromSlug(slug string) string {
	slug = strings.TrimRight(slug, ".")
	words := strings.Split(slug, "-")
	for i, w := range words {
		words[i] = rubyCapitalize(w)
	}
	return strings.TrimSpace(strings.Join(words, " "))
}
