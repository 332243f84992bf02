package feed

import (
	"bufio"
	"cmp"
	"time"
	"unicode/utf8"

	"github.com/gorilla/feeds"
)

const jsonFeedVersion = "https://jsonfeed.org/version/1.1"

// jsonDoc extends feeds.JSONFeed so that "items" is always present (its own
// Items field is omitempty, which makes an empty feed invalid). It encodes
// like encoding/json with SetEscapeHTML(false) and a two-space indent would,
// but in one pass: re-indenting a feed of full posts with encoding/json took
// longer than rendering them.
type jsonDoc struct {
	*feeds.JSONFeed
	Items []*feeds.JSONItem `json:"items"`
}

func writeJSON(buf *bufio.Writer, d *feedDoc) error {
	newJSONDoc(d).encode(buf)
	return nil
}

func newJSONDoc(d *feedDoc) *jsonDoc {
	site := d.site
	doc := &jsonDoc{
		JSONFeed: &feeds.JSONFeed{
			Version:     jsonFeedVersion,
			Title:       d.title,
			Language:    site.Language,
			HomePageUrl: d.home,
			FeedUrl:     d.selfURL(d.json),
			Description: d.desc,
			Authors:     []*feeds.JSONAuthor{{Name: d.authorName(), Url: d.home}},
		},
		Items: make([]*feeds.JSONItem, 0, len(d.items)),
	}
	if d.cfg.Hub != "" {
		doc.Hubs = []*feeds.JSONHub{{Type: "WebSub", Url: d.cfg.Hub}}
	}
	for _, x := range d.items {
		p, r := x.post, x.r
		published := jsonTime(p.Date, d.loc)
		modified := jsonTime(p.Modified(), d.loc)
		it := &feeds.JSONItem{
			Id:            x.id,
			Url:           p.URL,
			Title:         x.title,
			ContentHTML:   r.SummaryHTML,
			Summary:       r.SummaryText,
			Image:         p.Image,
			PublishedDate: &published,
			ModifiedDate:  &modified,
			Tags:          x.terms,
		}
		if d.cfg.FullContent && r.HTML != "" {
			it.ContentHTML = r.HTML
		}
		if it.ContentHTML == "" {
			// content_html or content_text is required for every item.
			it.ContentText = r.SummaryText
			if it.ContentText == "" {
				it.ContentText = p.Title
			}
		}
		// every item names its author (readers show no feed-level one)
		it.Authors = []*feeds.JSONAuthor{{Name: cmp.Or(p.Author, d.authorName())}}
		doc.Items = append(doc.Items, it)
	}
	return doc
}

// jsonTime is t in loc, to the second (JSON Feed dates are RFC 3339 and the
// other two formats have no sub-second part either).
func jsonTime(t time.Time, loc *time.Location) time.Time {
	return t.In(loc).Truncate(time.Second)
}

// jsonWriter writes indented JSON objects; fields with empty values are
// left out, as omitempty does.
type jsonWriter struct {
	buf   feedBuf
	depth int
	first bool // no field written yet in the current object or array
}

func (w *jsonWriter) newline() {
	w.buf.WriteByte('\n')
	for range w.depth {
		w.buf.WriteString("  ")
	}
}

func (w *jsonWriter) open(c byte) {
	w.buf.WriteByte(c)
	w.depth++
	w.first = true
}

func (w *jsonWriter) close(c byte) {
	w.depth--
	if !w.first { // an empty object or array stays on one line: {} []
		w.newline()
	}
	w.buf.WriteByte(c)
	w.first = false
}

// elem starts an array element or an object field.
func (w *jsonWriter) elem() {
	if !w.first {
		w.buf.WriteByte(',')
	}
	w.first = false
	w.newline()
}

func (w *jsonWriter) key(k string) {
	w.elem()
	w.buf.WriteByte('"')
	w.buf.WriteString(k) // keys are constants: nothing to escape
	w.buf.WriteString(`": `)
}

func (w *jsonWriter) str(k, v string) {
	if v == "" {
		return
	}
	w.key(k)
	jsonString(w.buf, v)
}

func (w *jsonWriter) time(k string, t *time.Time) {
	if t == nil {
		return
	}
	w.key(k)
	w.buf.WriteByte('"')
	w.buf.Write(t.AppendFormat(w.buf.AvailableBuffer(), time.RFC3339Nano))
	w.buf.WriteByte('"')
}

func (w *jsonWriter) strings(k string, list []string) {
	if len(list) == 0 {
		return
	}
	w.key(k)
	w.open('[')
	for _, s := range list {
		w.elem()
		jsonString(w.buf, s)
	}
	w.close(']')
}

func (w *jsonWriter) authors(k string, list []*feeds.JSONAuthor) {
	if len(list) == 0 {
		return
	}
	w.key(k)
	w.open('[')
	for _, a := range list {
		w.elem()
		w.open('{')
		w.str("name", a.Name)
		w.str("url", a.Url)
		w.str("avatar", a.Avatar)
		w.close('}')
	}
	w.close(']')
}

// encode writes the fields Herald sets, in the order and with the names of
// gorilla/feeds' struct tags, followed by a newline.
func (d *jsonDoc) encode(buf feedBuf) {
	w := &jsonWriter{buf: buf}
	w.open('{')
	w.key("version")
	jsonString(buf, d.Version)
	w.key("title")
	jsonString(buf, d.Title)
	w.str("language", d.Language)
	w.str("home_page_url", d.HomePageUrl)
	w.str("feed_url", d.FeedUrl)
	w.str("description", d.Description)
	w.str("icon", d.Icon)
	w.str("favicon", d.Favicon)
	w.authors("authors", d.Authors)
	if len(d.Hubs) > 0 {
		w.key("hubs")
		w.open('[')
		for _, h := range d.Hubs {
			w.elem()
			w.open('{')
			w.key("type")
			jsonString(buf, h.Type)
			w.key("url")
			jsonString(buf, h.Url)
			w.close('}')
		}
		w.close(']')
	}
	w.key("items")
	w.open('[')
	for _, it := range d.Items {
		w.elem()
		w.open('{')
		w.key("id")
		jsonString(buf, it.Id)
		w.str("url", it.Url)
		w.str("external_url", it.ExternalUrl)
		w.str("title", it.Title)
		w.str("content_html", it.ContentHTML)
		w.str("content_text", it.ContentText)
		w.str("summary", it.Summary)
		w.str("image", it.Image)
		w.time("date_published", it.PublishedDate)
		w.time("date_modified", it.ModifiedDate)
		w.authors("authors", it.Authors)
		w.strings("tags", it.Tags)
		w.close('}')
	}
	w.close(']')
	w.close('}')
	buf.WriteByte('\n')
}

const hexDigits = "0123456789abcdef"

// SWAR constants: a byte value repeated in the eight bytes of a uint64.
const (
	ones8  = 0x0101010101010101
	highs8 = 0x8080808080808080
)

// load8 is the eight bytes of s from i as a little-endian uint64.
func load8(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// hasByte reports whether one of the eight bytes of x is c.
func hasByte(x uint64, c byte) bool {
	v := x ^ (ones8 * uint64(c))
	return (v-ones8)&^v&highs8 != 0
}

// printable8 reports whether the eight bytes of x are all printable ASCII
// (0x20 to 0x7F): a byte below 0x20 borrows in x-0x20…, a byte from 0x80
// has its high bit.
func printable8(x uint64) bool {
	return ((x-0x20*ones8)|x)&highs8 == 0
}

// plain8 reports whether jsonString copies the eight bytes of x as they are
// (see jsonPlain).
func plain8(x uint64) bool {
	return printable8(x) && !hasByte(x, '"') && !hasByte(x, '\\')
}

// jsonPlain marks the bytes jsonString copies as they are: printable ASCII
// other than '"' and '\\'. Everything else takes the slow path.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// jsonString writes s as a JSON string the way encoding/json does with
// SetEscapeHTML(false): quotes, backslashes and control characters escaped,
// invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped.
func jsonString(buf feedBuf, s string) {
	buf.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plain8(load8(s, i)) {
			i += 8
			continue
		}
		c := s[i]
		if jsonPlain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			buf.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				buf.WriteByte('\\')
				buf.WriteByte(c)
			case '\n':
				buf.WriteString(`\n`)
			case '\r':
				buf.WriteString(`\r`)
			case '\t':
				buf.WriteString(`\t`)
			case '\b':
				buf.WriteString(`\b`)
			case '\f':
				buf.WriteString(`\f`)
			default:
				buf.WriteString(`\u00`)
				buf.WriteByte(hexDigits[c>>4])
				buf.WriteByte(hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			buf.WriteString(s[start:i])
			buf.WriteString("\uFFFD") // as encoding/json writes it (Go 1.27: the character, not an escape)
			i += n
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf.WriteString(s[start:i])
			buf.WriteString(`\u202`)
			buf.WriteByte(hexDigits[r&0xF])
			i += n
			start = i
			continue
		}
		i += n
	}
	buf.WriteString(s[start:])
	buf.WriteByte('"')
}
