package feed

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// jekyllPostID is the entry id jekyll-feed writes for p ({{ post.id |
// absolute_url }}, where Jekyll's post.id is the URL's folder joined with
// the post's slug): "https://example.com/blog/2023/slug" for the URL
// "https://example.com/blog/2023/slug/", "…/custom/custom-permalink" for a
// post with the permalink /custom/path/. A front-matter id: wins, as it
// does in permalink mode, so that a renamed post keeps its id.
func jekyllPostID(site *Site, p *Post) string {
	if p.ID != "" && p.ID != p.URL {
		return p.ID
	}
	base := strings.TrimRight(strings.TrimRight(site.URL, "/")+strings.TrimRight(site.BaseURL, "/"), "/")
	rest, ok := strings.CutPrefix(p.URL, base)
	if !ok {
		return p.URL
	}
	dir := rubyDirname(rest)
	var b strings.Builder
	b.WriteString(base)
	b.WriteString(strings.TrimRight(dir, "/"))
	b.WriteByte('/')
	escapeURLPath(&b, p.Slug, false)
	return b.String()
}

// rubyDirname is Ruby's File.dirname for a URL path: trailing slashes are
// ignored, "/a/b/" → "/a", "/a" → "/", "/" → "/".
func rubyDirname(p string) string {
	t := strings.TrimRight(p, "/")
	i := strings.LastIndexByte(t, '/')
	if i <= 0 {
		return "/"
	}
	return strings.TrimRight(t[:i], "/")
}

// oneLine folds a title or name to one line: every run of white space
// (CR and LF included) becomes one space.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t\v\f") && !strings.Contains(s, "  ") {
		return strings.TrimSpace(s)
	}
	return strings.Join(strings.Fields(s), " ")
}

// smartify is Jekyll's smartify filter on plain text, as kramdown's
// SmartyPants does it with Jekyll's default smart_quotes: straight quotes
// become typographic ones by context, "---" an em dash, "--" an en dash,
// "..." an ellipsis and "<<", ">>" guillemets.
func smartify(s string) string {
	if !strings.ContainsAny(s, "\"'-.<>") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	prev := ' ' // the rune before i: start of text counts as space
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		next, _ := utf8.DecodeRuneInString(s[i+n:])
		if rep, ok := smartSequence(s[i:]); ok {
			b.WriteString(rep.to)
			i, prev = i+len(rep.from), []rune(rep.to)[0]
			continue
		}
		switch {
		case r == '"' || r == '\'':
			open := opensQuote(prev, next)
			switch {
			case r == '"' && open:
				b.WriteString("“")
			case r == '"':
				b.WriteString("”")
			case open && !unicode.IsDigit(next):
				b.WriteString("‘")
			default:
				b.WriteString("’") // closing quote or apostrophe ('90s, don't)
			}
		default:
			b.WriteRune(r)
		}
		prev = r
		i += n
	}
	return b.String()
}

// smartSequences are the character sequences smartify replaces, longest
// first ("---" before "--").
var smartSequences = [...]struct{ from, to string }{
	{"---", "—"}, {"--", "–"}, {"...", "…"}, {"<<", "«"}, {">>", "»"},
}

// smartSequence returns the replacement of the sequence s starts with.
func smartSequence(s string) (struct{ from, to string }, bool) {
	for _, rep := range smartSequences {
		if strings.HasPrefix(s, rep.from) {
			return rep, true
		}
	}
	return struct{ from, to string }{}, false
}

// opensQuote decides whether a straight quote between prev and next opens:
// after space or an opening bracket or dash, and before something that is
// not space or closing punctuation.
func opensQuote(prev, next rune) bool {
	if next == utf8.RuneError || unicode.IsSpace(next) || strings.ContainsRune(".,;:!?)]}", next) {
		return false
	}
	return unicode.IsSpace(prev) || strings.ContainsRune("([{—–-“‘", prev)
}

// subFeeds reports whether feeds other than the main ones are built (so
// that more than cfg.Limit posts may be needed).
func (c *FeedsConfig) subFeeds() bool {
	return c.Tags || len(c.Categories) > 0 || c.ByTag != ""
}

// jekyllTagOK is jekyll-feed's rule for tags that get a feed: only ASCII
// letters, digits and "_".
func jekyllTagOK(tag string) bool {
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return tag != ""
}

// rubyCapitalize is Ruby's String#capitalize: the first letter upper case,
// the rest lower case.
func rubyCapitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + strings.ToLower(s[n:])
}

// jekyllSubFeeds builds jekyll-feed's Atom feeds per category
// (feed/CATEGORY.xml, titled "Site | Category") and per tag
// (ByTag+TAG+".xml") from the sorted items, newest cfg.Limit each.
func jekyllSubFeeds(main *feedDoc, items []*item) []*feedDoc {
	cfg := main.cfg
	if len(cfg.Categories) == 0 && cfg.ByTag == "" {
		return nil
	}
	sub := func(name, title string, keep func(p *Post) bool) *feedDoc {
		d := *main
		d.sub, d.rss, d.json, d.atom, d.title = true, "", "", name, title
		d.id = d.selfURL(name)
		d.items = nil
		for _, it := range items {
			if keep(it.post) {
				d.items = append(d.items, it)
			}
		}
		d.items = limit(d.items, cfg.Limit)
		return &d
	}
	var out []*feedDoc
	for _, c := range cfg.Categories {
		out = append(out, sub("feed/"+c+".xml", main.site.Title+" | "+rubyCapitalize(c), func(p *Post) bool {
			return slices.Contains(p.Categories, c)
		}))
	}
	if cfg.ByTag != "" {
		pool := cfg.ByTagOnly
		if len(pool) == 0 {
			seen := map[string]bool{}
			for _, it := range items {
				for _, t := range it.post.Tags {
					if !seen[t] {
						seen[t] = true
						pool = append(pool, t)
					}
				}
			}
			slices.Sort(pool)
		}
		for _, t := range pool {
			if !jekyllTagOK(t) || slices.Contains(cfg.ByTagExcept, t) {
				continue
			}
			out = append(out, sub(cfg.ByTag+t+".xml", main.site.Title, func(p *Post) bool {
				return slices.Contains(p.Tags, t)
			}))
		}
	}
	return out
}
