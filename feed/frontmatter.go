package feed

import (
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// postParser turns one file's bytes into a Post. It holds what it needs of
// the site, computed once.
type postParser struct {
	loc       *time.Location
	base      string // site.url + site.baseurl, no trailing "/"
	scheme    string // site.url's scheme, for "//host/x" references
	permalink string // site.permalink with styles resolved
	excerpt   string // site.excerpt_separator
	future    bool   // site.future
	defaults  []postDefault
	relPrefix string // the posts folder's path in the Jekyll site ("" or "x/"), for defaults' scopes
	yamlUTC   bool   // site.jekyll: an unquoted date-time without a zone is UTC, as Ruby's YAML reads it
}

func newPostParser(site *Site) *postParser {
	base := strings.TrimRight(site.URL, "/") + strings.TrimRight(site.BaseURL, "/")
	scheme := "https"
	if u, err := url.Parse(site.URL); err == nil && u.Scheme != "" {
		scheme = u.Scheme
	}
	perm := permalinkTemplate(site.Permalink, true)
	if perm == "" {
		perm = permalinkTemplate(DefaultSite().Permalink, true)
	}
	return &postParser{loc: site.Location(), base: base, scheme: scheme, permalink: perm,
		excerpt: site.ExcerptSeparator, future: site.Future, defaults: site.defaults, yamlUTC: site.Jekyll != ""}
}

// parsedPost is a parsed post file with what the loader needs besides the
// Post itself.
type parsedPost struct {
	post          *Post
	warnings      []lineMsg
	idLine        int // file line of the front-matter id key, 0 when absent
	permalinkLine int // file line of the front-matter permalink key, 0 when absent
}

// parse reads one post file: rel is its slash-separated path in the posts
// folder, data its bytes. The error, a *postError, says why the file is not
// a post; the post is then skipped.
func (pp *postParser) parse(rel string, data []byte) (*parsedPost, error) {
	name, fileDate, fileSlug, ok := postName(path.Base(rel))
	if !ok {
		return nil, &postError{0, `file name is not "YYYY-MM-DD-slug.md"`}
	}
	if perr := checkUTF8(data); perr != nil {
		return nil, perr
	}
	fm, _, bodyLine, perr := splitFrontMatter(data)
	if perr != nil {
		return nil, perr
	}
	fileLine := newYAMLLines(fm).fileLine
	var err error
	doc, ok := fastYAML(fm)
	if !ok {
		doc, err = decodeYAML(fm)
	}
	if err != nil {
		n, msg := yamlLine(err)
		line := 1
		if n > 0 {
			line = fileLine(n)
		}
		return nil, &postError{line, "front matter: invalid YAML: " + msg}
	}

	out := &parsedPost{post: &Post{
		Name:             name,
		Slug:             fileSlug,
		Published:        true,
		Newsletter:       true,
		Future:           pp.future,
		ExcerptSeparator: pp.excerpt,
		BodyLine:         bodyLine,
	}}
	p := out.post
	warn := func(line int, format string, args ...any) {
		out.warnings = append(out.warnings, lineMsg{line, fmt.Sprintf(format, args...)})
	}

	var root *yaml.Node
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root = deref(doc.Content[0])
	}
	if root != nil && root.Kind != yaml.MappingNode && !isNull(root) {
		return nil, &postError{fileLine(root.Line), "front matter: must be a YAML mapping of keys to values (title: …)"}
	}

	var (
		titleLine                     int
		haveDate                      bool
		singleTags, singleCats        []string
		haveSingleTags, haveSingleCat bool
		permalink                     string
		id                            string
		slug                          string
	)
	if len(pp.defaults) > 0 {
		root = withDefaults(root, defaultsFor(pp.defaults, pp.relPrefix+rel))
	}
	if root != nil && root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := deref(root.Content[i]), deref(root.Content[i+1])
			if k == nil || v == nil || k.Kind != yaml.ScalarNode {
				continue
			}
			line := fileLine(k.Line)
			key := k.Value
			switch key {
			case "title":
				s, ok := scalar(v)
				if !ok {
					return nil, &postError{line, "title: must be a string"}
				}
				p.Title, titleLine = oneLine(s), line // never a CR or LF in a feed or a header
			case "date", "updated", "last_modified_at":
				s, ok := scalar(v)
				if !ok {
					return nil, &postError{line, key + ": must be a date such as 2023-10-06 04:00:00"}
				}
				if strings.TrimSpace(s) == "" {
					continue
				}
				loc := pp.loc
				if pp.yamlUTC && v.Style == 0 && yamlTimestampNoZone(s) {
					loc = time.UTC // Jekyll: Ruby's YAML reads it as UTC
				}
				t, gap, err := parsePostDate(s, loc)
				if err != nil {
					return nil, &postError{line, key + ": " + err.Error()}
				}
				t = t.In(pp.loc)
				if z := strings.TrimSpace(s); len(z) > 4 && oddOffset(z[len(z)-4:]) {
					warn(line, "%s: offset %s has three digits and no colon: ignored, as Jekyll does (the time is read in %s)", key, z[len(z)-4:], pp.loc)
				}
				if gap {
					warn(line, "%s: %s does not exist in %s (clocks go forward that day); read as %s",
						key, strings.TrimSpace(s), pp.loc, t.Format("2006-01-02 15:04:05 -0700 MST"))
				}
				if key == "date" {
					p.Date, haveDate = t, true
				} else {
					p.Updated = t
				}
			case "description", "excerpt_separator", "permalink", "slug", "id":
				s, ok := scalar(v)
				if !ok {
					warn(line, "%s: must be a string; ignored", key)
					continue
				}
				switch key {
				case "description":
					p.Description = oneLine(s)
				case "excerpt_separator":
					p.ExcerptSeparator = s
				case "permalink":
					permalink, out.permalinkLine = strings.TrimSpace(s), line
				case "slug":
					slug = strings.TrimSpace(s)
				case "id":
					id, out.idLine = strings.TrimSpace(s), line
				}
			case "tags", "categories":
				list, ok := stringList(v, true)
				if !ok {
					warn(line, "%s: must be a list or a space-separated string; non-text items ignored", key)
				}
				if key == "tags" {
					p.Tags = list
				} else {
					p.Categories = list
				}
			case "tag", "category":
				if isNull(v) {
					continue
				}
				list, ok := stringList(v, false)
				if !ok {
					warn(line, "%s: must be a string or a list; non-text items ignored", key)
				}
				if key == "tag" {
					singleTags, haveSingleTags = list, true
				} else {
					singleCats, haveSingleCat = list, true
				}
			case "author":
				p.Author = authorName(v)
				if p.Author == "" && !isNull(v) {
					warn(line, "author: must be a name, a list of names or a mapping with a name; ignored")
				}
			case "image":
				ref := imageRef(v)
				if ref == "" && !isNull(v) {
					warn(line, "image: must be a URL or path, or a mapping with path or url; ignored")
				}
				p.Image = pp.absolute(ref)
			case "published", "draft", "newsletter":
				if isNull(v) {
					continue
				}
				b, ok := boolean(v)
				if !ok {
					warn(line, "%s: must be true or false, got %q; ignored", key, v.Value)
					continue
				}
				switch key {
				case "published":
					if !b {
						p.Published = false
					}
				case "draft":
					if b {
						p.Published = false
					}
				case "newsletter":
					p.Newsletter = b
				}
			}
		}
	}
	if p.Title == "" {
		// Jekyll: a post without a title takes one from its file name.
		p.Title = titleFromSlug(fileSlug)
		if p.Title == "" {
			return nil, &postError{max(titleLine, 1), "title: required (front matter has no title, and the file name has no words)"}
		}
	}
	if n := utf8.RuneCountInString(p.Title); n > maxTitle {
		return nil, &postError{titleLine, fmt.Sprintf("title: %d characters long, more than %d", n, maxTitle)}
	}
	// Jekyll: the singular key, when present, wins over the plural one.
	if haveSingleTags {
		p.Tags = singleTags
	}
	if haveSingleCat {
		p.Categories = singleCats
	}
	p.Tags = uniqueStrings(p.Tags)
	p.Categories = uniqueStrings(append(p.Categories, pathCategories(rel)...))

	if !haveDate {
		t, _, err := parsePostDate(fileDate, pp.loc)
		if err != nil {
			return nil, &postError{0, "file name: " + err.Error()}
		}
		p.Date = t
	}
	if slug != "" {
		p.Slug = slug
	}

	tmpl := pp.permalink
	if permalink != "" {
		tmpl = permalinkTemplate(permalink, false)
	}
	urlCats := make([]string, 0, len(p.Categories))
	for _, c := range p.Categories {
		urlCats = append(urlCats, strings.ToLower(c))
	}
	urlPath, unknown := expandPermalink(tmpl, &permalinkVars{date: p.Date, slug: p.Slug, categories: uniqueStrings(urlCats)})
	if len(unknown) > 0 && permalink != "" {
		warn(out.permalinkLine, "permalink: unknown placeholder %s kept as written (known: %s)", strings.Join(unknown, ", "), placeholderNames)
	}
	p.URL = pp.base + urlPath
	if id != "" {
		p.ID = pp.absoluteID(id)
	} else {
		p.ID = p.URL
	}
	return out, nil
}

// absolute makes an image reference absolute against the site, as Jekyll's
// absolute_url filter does: URLs with a scheme stay, "//host/x" gets the
// site's scheme, any path is site.url + site.baseurl + "/" + path. Spaces are
// escaped.
func (pp *postParser) absolute(ref string) string {
	ref = strings.TrimSpace(ref)
	switch {
	case ref == "":
		return ""
	case refHasScheme(ref):
	case strings.HasPrefix(ref, "//"):
		ref = pp.scheme + ":" + ref
	default:
		ref = pp.base + "/" + strings.TrimLeft(ref, "/")
	}
	return strings.ReplaceAll(ref, " ", "%20")
}

// absoluteID makes a front-matter id a valid feed id as jekyll-feed does
// ({{ post.id | absolute_url }}): an id with a scheme ("urn:…", "tag:…",
// "https://…") stays, anything else is made absolute against the site.
func (pp *postParser) absoluteID(id string) string {
	if refHasScheme(id) {
		return id
	}
	return pp.absolute(id)
}

// refHasScheme reports whether ref starts with a URI scheme ("https:", "urn:").
func refHasScheme(ref string) bool {
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') && i > 0:
		case c == ':' && i > 0:
			return true
		default:
			return false
		}
	}
	return false
}

// deref follows YAML aliases (a bounded number of times).
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// scalar is a scalar node's text; null is "". ok is false for lists and
// mappings.
func scalar(n *yaml.Node) (string, bool) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return n.Value, true
}

// stringList reads a list of strings: a sequence of scalars, or a scalar
// that is split on white space when split is set (Jekyll's plural keys) or
// taken whole (its singular keys). ok is false when items were dropped.
func stringList(n *yaml.Node, split bool) (list []string, ok bool) {
	ok = true
	switch {
	case isNull(n):
		return nil, true
	case n.Kind == yaml.ScalarNode:
		if split {
			return strings.Fields(n.Value), true
		}
		if s := strings.TrimSpace(n.Value); s != "" {
			return []string{s}, true
		}
		return nil, true
	case n.Kind == yaml.SequenceNode:
		for _, item := range n.Content {
			item = deref(item)
			s, isScalar := scalar(item)
			if !isScalar {
				ok = false
				continue
			}
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		return list, ok
	}
	return nil, false
}

// uniqueStrings drops repeated strings, keeping the first of each.
func uniqueStrings(list []string) []string {
	if len(list) < 2 {
		return list
	}
	out := list[:0:0]
	for _, s := range list {
		dup := false
		for _, o := range out {
			if o == s {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}

// authorName reads author as a name, a list of names (joined with ", ") or
// a mapping with a name key (jekyll-seo-tag's form), each list item too.
func authorName(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.SequenceNode {
		return scalarOrKey(n, "name")
	}
	var names []string
	for _, item := range n.Content {
		if s := scalarOrKey(deref(item), "name"); s != "" {
			names = append(names, s)
		}
	}
	return strings.Join(names, ", ")
}

// imageRef reads image as a string or a mapping with path (jekyll-seo-tag)
// or url.
func imageRef(n *yaml.Node) string { return scalarOrKey(n, "path", "url") }

// scalarOrKey reads n as a string, or, when n is a mapping, the first of
// keys it sets; "" for anything else.
func scalarOrKey(n *yaml.Node, keys ...string) string {
	switch {
	case n == nil:
	case n.Kind == yaml.ScalarNode:
		s, _ := scalar(n)
		return strings.TrimSpace(s)
	case n.Kind == yaml.MappingNode:
		for _, k := range keys {
			if s := mapString(n, k); s != "" {
				return s
			}
		}
	}
	return ""
}

// mapString is the trimmed scalar value of key in mapping n, or "".
func mapString(n *yaml.Node, key string) string {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == key {
			s, _ := scalar(deref(n.Content[i+1]))
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// boolean reads an unquoted true/false (also YAML 1.1's yes/no/on/off,
// which Jekyll's Ruby YAML reads as booleans).
func boolean(n *yaml.Node) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 {
		return false, false
	}
	switch strings.ToLower(n.Value) {
	case "true", "yes", "on", "y":
		return true, true
	case "false", "no", "off", "n":
		return false, true
	}
	return false, false
}
