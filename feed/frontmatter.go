package feed

import (
	"bytes"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// lineMsg is a message about one line of a post file (0: no line).
type lineMsg struct {
	line int
	msg  string
}

// postError is why a post file is not a post: the post is skipped.
type postError lineMsg

func (e *postError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("line %d: %s", e.line, e.msg)
	}
	return e.msg
}

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

// postName splits a post file's base name "YYYY-MM-DD-slug.md" (or
// ".markdown") into its name without extension, date and slug. ok is false
// for any other name.
func postName(base string) (name, date, slug string, ok bool) {
	switch {
	case strings.HasSuffix(base, ".md"):
		name = base[:len(base)-len(".md")]
	case strings.HasSuffix(base, ".markdown"):
		name = base[:len(base)-len(".markdown")]
	default:
		return "", "", "", false
	}
	if len(name) < len("2006-01-02-x") || name[4] != '-' || name[7] != '-' || name[10] != '-' {
		return "", "", "", false
	}
	for _, i := range []int{0, 1, 2, 3, 5, 6, 8, 9} {
		if name[i] < '0' || name[i] > '9' {
			return "", "", "", false
		}
	}
	return name, name[:10], name[11:], true
}

// pathCategories are the folders above a "_posts" folder in rel, which
// Jekyll adds to a post's categories ("blog/_posts/x.md" → ["blog"]).
func pathCategories(rel string) []string {
	dirs := strings.Split(path.Dir(rel), "/")
	for i := len(dirs) - 1; i >= 0; i-- {
		if dirs[i] == "_posts" {
			var out []string
			for _, d := range dirs[:i] {
				if d != "" && d != "." {
					out = append(out, d)
				}
			}
			return out
		}
	}
	return nil
}

// checkUTF8 returns an error naming the line and column of the first invalid
// UTF-8 byte in data, or nil.
func checkUTF8(data []byte) *postError {
	if utf8.Valid(data) {
		return nil
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return &postError{line, fmt.Sprintf("invalid UTF-8: byte 0x%02X at column %d (save the file as UTF-8)", data[i], col)}
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return &postError{0, "invalid UTF-8 (save the file as UTF-8)"}
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// splitFrontMatter finds the front matter at the very top of data (after an
// optional UTF-8 BOM): a line "---", the YAML, and a line "---" or "..."
// (trailing spaces and a CR allowed, as Jekyll). It returns the YAML text
// (CRLF turned into LF), the rest of the file as is, and the 1-based line of
// the body's first line.
func splitFrontMatter(data []byte) (fm, body []byte, bodyLine int, perr *postError) {
	data = bytes.TrimPrefix(data, utf8BOM)
	first, _, _ := bytes.Cut(data, []byte{'\n'})
	if string(bytes.TrimRight(first, " \t\r")) != "---" {
		return nil, nil, 0, &postError{1, `no front matter: a post starts with a "---" line, then YAML with at least a title, then "---"`}
	}
	line := 1
	for pos := len(first) + 1; pos < len(data); {
		l, next := data[pos:], len(data)
		if end := bytes.IndexByte(l, '\n'); end >= 0 {
			l, next = l[:end], pos+end+1
		}
		line++
		if t := string(bytes.TrimRight(l, " \t\r")); t == "---" || t == "..." {
			fm = data[len(first)+1 : pos]
			if bytes.IndexByte(fm, '\r') >= 0 {
				fm = bytes.ReplaceAll(fm, []byte("\r\n"), []byte("\n"))
			}
			return fm, data[next:], line + 1, nil
		}
		pos = next
	}
	return nil, nil, 0, &postError{1, `front matter not closed: no "---" line after the opening one`}
}

// yamlLine finds the 1-based line of a yaml.v3 error in the YAML text and
// returns it (0 when the error has none) with the message without its
// "yaml: line N: " prefix. yaml.v3 writes the line of scanner errors 1-based
// but the line of parser errors (a broken flow list, a missing key: the line
// where the broken construct starts) 0-based; this undoes that.
func yamlLine(err error) (int, string) {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return 0, msg
	}
	num, tail, ok := strings.Cut(rest, ":")
	n, err := strconv.Atoi(num)
	if !ok || err != nil {
		return 0, msg
	}
	tail = strings.TrimSpace(tail)
	for _, parserErr := range []string{
		"did not find expected node content", "did not find expected key", "did not find expected '-' indicator",
		"did not find expected ',' or", "did not find expected <", "found duplicate %", "found incompatible YAML",
		"found undefined tag handle",
	} {
		if strings.HasPrefix(tail, parserErr) {
			n++
			break
		}
	}
	return n, tail
}

// yamlFileLine converts line n of the front matter fm, as yaml.v3 counts
// lines, to a line of the file: the front matter starts on the file's line
// 2, and yaml.v3 also breaks lines at a lone CR, NEL, U+2028 and U+2029,
// which the file's line numbers (and editors) do not.
func yamlFileLine(fm []byte, n int) int {
	if bytes.IndexByte(fm, '\r') < 0 && !bytes.Contains(fm, []byte("\u0085")) &&
		!bytes.Contains(fm, []byte("\u2028")) && !bytes.Contains(fm, []byte("\u2029")) {
		return n + 1
	}
	line, file := 1, 2
	for i := 0; i < len(fm) && line < n; {
		r, size := utf8.DecodeRune(fm[i:])
		switch r {
		case '\n':
			line++
			file++
		case '\r':
			if i+1 < len(fm) && fm[i+1] == '\n' {
				size++
				file++
			}
			line++
		case 0x85, 0x2028, 0x2029:
			line++
		}
		i += size
	}
	return file
}

// decodeYAML parses front matter into a node, never panicking.
func decodeYAML(fm []byte) (doc yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	err = yaml.Unmarshal(fm, &doc)
	return doc, err
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
	fileLine := func(n int) int { return yamlFileLine(fm, n) }
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
// a mapping with a name key (jekyll-seo-tag's form).
func authorName(n *yaml.Node) string {
	switch {
	case n == nil:
		return ""
	case n.Kind == yaml.ScalarNode:
		s, _ := scalar(n)
		return strings.TrimSpace(s)
	case n.Kind == yaml.SequenceNode:
		var names []string
		for _, item := range n.Content {
			item = deref(item)
			var s string
			switch {
			case item == nil:
			case item.Kind == yaml.ScalarNode:
				s, _ = scalar(item)
			case item.Kind == yaml.MappingNode:
				s = mapString(item, "name")
			}
			if s = strings.TrimSpace(s); s != "" {
				names = append(names, s)
			}
		}
		return strings.Join(names, ", ")
	case n.Kind == yaml.MappingNode:
		return mapString(n, "name")
	}
	return ""
}

// imageRef reads image as a string or a mapping with path (jekyll-seo-tag)
// or url.
func imageRef(n *yaml.Node) string {
	switch {
	case n == nil:
		return ""
	case n.Kind == yaml.ScalarNode:
		s, _ := scalar(n)
		return strings.TrimSpace(s)
	case n.Kind == yaml.MappingNode:
		if s := mapString(n, "path"); s != "" {
			return s
		}
		return mapString(n, "url")
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

// fastYAML parses the front matter most posts have (one "key: value" per
// line, values plain or quoted scalars or one-line flow lists, or block
// lists of scalars under an empty "key:", blank lines and comments) without
// yaml.v3, which costs more than reading and hashing the file. It builds
// the nodes yaml.v3 would build (kind, tag for null, value, quoting style,
// lines) and reports ok false for anything else, which is then given to
// yaml.v3. FuzzParsePost checks that both agree.
func fastYAML(fm []byte) (doc yaml.Node, ok bool) {
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1, Column: 1}
	var open *yaml.Node // the last key's value when it may still get block-list items
	for lineNo, rest := 1, fm; len(rest) > 0; lineNo++ {
		var line []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, nil
		}
		if !fastPrintable(line) {
			return doc, false
		}
		trimmed := bytes.TrimLeft(line, " ")
		switch {
		case len(bytes.TrimRight(trimmed, " ")) == 0:
			continue
		case trimmed[0] == '#':
			continue
		case len(trimmed) < len(line): // indented: only "- item" under an open key
			if open == nil || trimmed[0] != '-' || len(trimmed) < 2 || trimmed[1] != ' ' {
				return doc, false
			}
			indent := len(line) - len(trimmed)
			if open.Kind == yaml.ScalarNode { // first item: the value becomes a list
				*open = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: lineNo, Column: indent + 1}
			} else if open.Column != indent+1 {
				return doc, false
			}
			item, ok := fastScalar(bytes.Trim(trimmed[2:], " "), false)
			if !ok || item.Tag == "!!null" {
				return doc, false
			}
			item.Line, item.Column = lineNo, indent+3
			open.Content = append(open.Content, item)
			continue
		}
		// "key: value" at column 1.
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !fastKey(line[:colon]) || (colon+1 < len(line) && line[colon+1] != ' ') {
			return doc, false
		}
		key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: string(line[:colon]), Line: lineNo, Column: 1}
		raw := bytes.Trim(line[colon+1:], " ")
		var val *yaml.Node
		if len(raw) > 0 && raw[0] == '[' {
			val, ok = fastFlowList(raw)
		} else {
			val, ok = fastScalar(raw, false)
		}
		if !ok {
			return doc, false
		}
		val.Line, val.Column = lineNo, colon+3
		open = nil
		if len(raw) == 0 {
			open = val
		}
		root.Content = append(root.Content, key, val)
	}
	if len(root.Content) == 0 {
		return doc, false
	}
	return yaml.Node{Kind: yaml.DocumentNode, Line: 1, Column: 1, Content: []*yaml.Node{root}}, true
}

// fastPrintable reports whether line has only characters the fast path
// handles: printable ASCII and the printable non-ASCII characters of YAML
// (no tab, no control character, no BOM, no NEL, no U+2028/U+2029, which
// yaml.v3 reads as line breaks).
func fastPrintable(line []byte) bool {
	for i := 0; i < len(line); {
		c := line[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7F {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(line[i:])
		if r == utf8.RuneError || r < 0xA0 || (r > 0xD7FF && r < 0xE000) || r == 0xFEFF || r == 0xFFFE || r == 0xFFFF || r == 0x2028 || r == 0x2029 {
			return false
		}
		i += size
	}
	return true
}

// fastKey reports whether k is a plain key of at most 128 letters, digits,
// "_" and "-", starting with a letter or "_".
func fastKey(k []byte) bool {
	for i, c := range k {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case (c >= '0' && c <= '9' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return len(k) > 0 && len(k) <= 128 // YAML caps implicit keys at 1024 characters
}

// fastScalar parses one scalar: empty (null), plain, 'single' or "double"
// quoted (without escapes). inFlow forbids the characters that end a plain
// scalar inside a flow list.
func fastScalar(raw []byte, inFlow bool) (*yaml.Node, bool) {
	if len(raw) == 0 {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}, true
	}
	switch raw[0] {
	case '\'':
		body := raw[1:]
		var b strings.Builder
		for {
			i := bytes.IndexByte(body, '\'')
			if i < 0 {
				return nil, false
			}
			b.Write(body[:i])
			if i+1 < len(body) && body[i+1] == '\'' {
				b.WriteByte('\'')
				body = body[i+2:]
				continue
			}
			if len(bytes.TrimRight(body[i+1:], " ")) != 0 {
				return nil, false
			}
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.SingleQuotedStyle, Value: b.String()}, true
		}
	case '"':
		body := raw[1:]
		i := bytes.IndexByte(body, '"')
		if i < 0 || bytes.IndexByte(body[:i], '\\') >= 0 || len(bytes.TrimRight(body[i+1:], " ")) != 0 {
			return nil, false
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: string(body[:i])}, true
	}
	// A plain scalar: no indicator first, no ": " or " #" inside; when in
	// doubt (any ':' or '#', flow characters), yaml.v3 decides.
	if bytes.IndexByte([]byte("-?:,[]{}#&*!|>'\"%@`"), raw[0]) >= 0 || bytes.ContainsAny(raw, "#[]{}") {
		return nil, false
	}
	if inFlow && bytes.ContainsAny(raw, ",:") {
		return nil, false
	}
	if bytes.Contains(raw, []byte(": ")) || raw[len(raw)-1] == ':' {
		return nil, false
	}
	v := string(raw)
	tag := "!!str"
	switch v {
	case "~", "null", "Null", "NULL":
		tag = "!!null"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v}, true
}

// fastFlowList parses a one-line flow list of scalars: [a, 'b c', "d"].
func fastFlowList(raw []byte) (*yaml.Node, bool) {
	if raw[len(raw)-1] != ']' {
		return nil, false
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
	body := bytes.Trim(raw[1:len(raw)-1], " ")
	for len(body) > 0 {
		var item []byte
		if body[0] == '\'' || body[0] == '"' {
			end := bytes.IndexByte(body[1:], body[0])
			if end < 0 {
				return nil, false
			}
			item, body = body[:end+2], bytes.TrimLeft(body[end+2:], " ")
			if len(body) > 0 && body[0] == item[0] { // a '' escape: let yaml.v3 decide
				return nil, false
			}
		} else {
			i := bytes.IndexByte(body, ',')
			if i < 0 {
				i = len(body)
			}
			item, body = bytes.TrimRight(body[:i], " "), body[i:]
		}
		node, ok := fastScalar(item, true)
		if !ok || node.Tag == "!!null" {
			return nil, false
		}
		seq.Content = append(seq.Content, node)
		if len(body) == 0 {
			break
		}
		if body[0] != ',' {
			return nil, false
		}
		body = bytes.TrimLeft(body[1:], " ")
		if len(body) == 0 { // trailing comma
			return nil, false
		}
	}
	return seq, true
}
