package feed

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// permalinkTemplate resolves Jekyll's built-in permalink styles (date,
// pretty, ordinal, weekdate, none) to their patterns when styles is set (the
// site-wide setting; a front-matter permalink is always a pattern, as in
// Jekyll). Posts are Markdown, so :output_ext is ".html".
func permalinkTemplate(s string, styles bool) string {
	s = strings.TrimSpace(s)
	if !styles {
		return s
	}
	switch s {
	case "date":
		return "/:categories/:year/:month/:day/:title:output_ext"
	case "pretty":
		return "/:categories/:year/:month/:day/:title/"
	case "ordinal":
		return "/:categories/:year/:y_day/:title:output_ext"
	case "weekdate":
		return "/:categories/:year/W:week/:short_day/:title:output_ext"
	case "none":
		return "/:categories/:title:output_ext"
	}
	return s
}

// placeholderNames lists the supported placeholders, for error messages.
const placeholderNames = ":year :month :i_month :short_month :long_month :day :i_day :y_day :short_day :long_day " +
	":week :w_year :w_day :short_year :hour :minute :second :title :slug :categories :slugified_categories :output_ext"

func knownPlaceholderList() string { return placeholderNames }

// permalinkVars are the values a permalink's placeholders expand to.
type permalinkVars struct {
	date       time.Time // in the site's location
	slug       string    // Post.Slug
	categories []string
}

// placeholder returns the raw (unescaped) value of one placeholder and
// whether the name is known. The values follow Jekyll's Drops::UrlDrop.
func (v *permalinkVars) placeholder(name string) (string, bool) {
	d := v.date
	two := func(n int) string {
		if n < 10 {
			return "0" + strconv.Itoa(n)
		}
		return strconv.Itoa(n)
	}
	switch name {
	case "year":
		return strconv.Itoa(d.Year()), true
	case "month":
		return two(int(d.Month())), true
	case "i_month":
		return strconv.Itoa(int(d.Month())), true
	case "short_month":
		return d.Format("Jan"), true
	case "long_month":
		return d.Format("January"), true
	case "day":
		return two(d.Day()), true
	case "i_day":
		return strconv.Itoa(d.Day()), true
	case "y_day":
		return d.Format("002"), true
	case "short_day":
		return d.Format("Mon"), true
	case "long_day":
		return d.Format("Monday"), true
	case "week":
		_, w := d.ISOWeek()
		return two(w), true
	case "w_year":
		y, _ := d.ISOWeek()
		return strconv.Itoa(y), true
	case "w_day":
		wd := int(d.Weekday())
		if wd == 0 {
			wd = 7
		}
		return strconv.Itoa(wd), true
	case "short_year":
		return two(d.Year() % 100), true
	case "hour":
		return two(d.Hour()), true
	case "minute":
		return two(d.Minute()), true
	case "second":
		return two(d.Second()), true
	case "title":
		return jekyllSlugify(v.slug, true, true), true
	case "slug":
		return jekyllSlugify(v.slug, false, false), true
	case "categories":
		return strings.Join(v.categories, "/"), true
	case "slugified_categories":
		parts := make([]string, 0, len(v.categories))
		for _, c := range v.categories {
			if s := jekyllSlugify(c, false, false); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "/"), true
	case "output_ext":
		return ".html", true
	}
	return "", false
}

// placeholderAt returns the name of the placeholder starting at tmpl[i]
// (which is ':'): the longest run of [a-z_] after it, as Jekyll's
// /:([a-z_]+)/ does.
func placeholderAt(tmpl string, i int) string {
	j := i + 1
	for j < len(tmpl) && (tmpl[j] >= 'a' && tmpl[j] <= 'z' || tmpl[j] == '_') {
		j++
	}
	return tmpl[i+1 : j]
}

// unknownPlaceholders lists the placeholders of tmpl that are not supported.
func unknownPlaceholders(tmpl string) []string {
	var out []string
	var v permalinkVars
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] != ':' {
			continue
		}
		name := placeholderAt(tmpl, i)
		if name == "" {
			continue
		}
		if _, ok := v.placeholder(name); !ok {
			out = append(out, ":"+name)
		}
		i += len(name)
	}
	return out
}

// expandPermalink expands a permalink pattern (not a style name) into a URL
// path: each placeholder's value is percent-escaped (a "/" between
// categories is kept), unknown placeholders are left as written and
// returned, and the result starts with "/", has no "//", no ".." and keeps
// a trailing "/" or ".html". This is Jekyll's URL#to_s.
func expandPermalink(tmpl string, v *permalinkVars) (path string, unknown []string) {
	var b strings.Builder
	b.Grow(len(tmpl) + 32)
	b.WriteByte('/')
	lit := 0 // start of the pending literal text
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] != ':' {
			continue
		}
		name := placeholderAt(tmpl, i)
		if name == "" {
			continue
		}
		val, ok := v.placeholder(name)
		if !ok {
			unknown = append(unknown, ":"+name)
			i += len(name)
			continue
		}
		escapeURLPath(&b, tmpl[lit:i], true)
		escapeURLPath(&b, val, false)
		i += len(name)
		lit = i + 1
	}
	escapeURLPath(&b, tmpl[lit:], true)
	return cleanURLPath(b.String()), unknown
}

// cleanURLPath removes "..", "./" and repeated slashes, as Jekyll's
// sanitize_url does.
func cleanURLPath(p string) string {
	p = strings.ReplaceAll(p, "..", "/")
	p = strings.ReplaceAll(p, "./", "")
	var b strings.Builder
	b.Grow(len(p) + 1)
	if !strings.HasPrefix(p, "/") {
		b.WriteByte('/')
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i > 0 && p[i-1] == '/' {
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// escapeURLPath writes s percent-escaped for a URL path: RFC 3986 pchar and
// "/" stay, everything else (including non-ASCII, as UTF-8 bytes) becomes
// %XX. With keepEscapes, an existing %XX sequence is kept as is.
func escapeURLPath(b *strings.Builder, s string, keepEscapes bool) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0:
			b.WriteByte(c)
		case c == '%' && keepEscapes && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// jekyllSlugify is Jekyll's Utils.slugify in its "default" mode (every run
// of characters other than letters, marks and decimal digits becomes one
// "-") or, with pretty, its "pretty" mode (which also keeps ._~!$&'()+,;=@).
// One leading and one trailing "-" are removed; the result is lowercased
// unless cased.
func jekyllSlugify(s string, pretty, cased bool) string {
	var b strings.Builder
	b.Grow(len(s))
	hyphen := false
	for _, r := range s {
		keep := unicode.IsLetter(r) || unicode.Is(unicode.M, r) || unicode.Is(unicode.Nd, r) ||
			(pretty && r < utf8.RuneSelf && strings.ContainsRune("._~!$&'()+,;=@", r))
		if r == utf8.RuneError {
			keep = false
		}
		if !keep {
			if !hyphen {
				b.WriteByte('-')
				hyphen = true
			}
			continue
		}
		hyphen = false
		if !cased {
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	out := b.String()
	out = strings.TrimPrefix(out, "-")
	out = strings.TrimSuffix(out, "-")
	return out
}
