package feed

import (
	"bytes"
	"io"
	"net/url"
	"strings"

	xhtml "golang.org/x/net/html"
)

// urlResolver makes URLs absolute against a post's URL.
type urlResolver struct {
	post     string   // the post URL without fragment
	base     *url.URL // the post URL, parsed
	fallback string   // returned for "#" and "" (the post URL)
}

func newURLResolver(postURL string) (*urlResolver, error) {
	if i := strings.IndexByte(postURL, '#'); i >= 0 {
		postURL = postURL[:i]
	}
	u, err := url.Parse(postURL)
	if err != nil {
		return nil, err
	}
	return &urlResolver{post: postURL, base: u, fallback: postURL}, nil
}

// abs resolves ref the way a browser showing the post resolves it: "#x" is
// POST_URL#x, "/a.png" is scheme://host/a.png (SITE_URL/a.png when site.url
// has no path, as in Jekyll, where baseurl is part of the written path),
// "img/b.png" is relative to the post URL's folder (POST_URL/img/b.png for
// Jekyll's pretty permalinks, which end in "/"). URLs with a scheme
// (https:, mailto:, data:…) are kept as they are; an unparsable one too.
func (r *urlResolver) abs(ref string) string {
	ref = strings.TrimSpace(ref)
	switch {
	case ref == "" || ref == "#":
		return r.fallback
	case ref[0] == '#':
		return r.post + ref
	case hasScheme(ref):
		return ref
	}
	u, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	return r.base.ResolveReference(u).String()
}

// absSrcset resolves every URL of a srcset attribute ("a.png 1x, b.png 2x").
func (r *urlResolver) absSrcset(v string) string {
	var b strings.Builder
	for _, cand := range strings.Split(v, ",") {
		cand = strings.TrimSpace(cand)
		if cand == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		u, desc, _ := strings.Cut(cand, " ")
		b.WriteString(r.abs(u))
		if desc = strings.TrimSpace(desc); desc != "" {
			b.WriteByte(' ')
			b.WriteString(desc)
		}
	}
	return b.String()
}

// cleanHTML copies the HTML in src to dst in one tokenizer pass: <style>
// and <script> elements are dropped with their content, and every href,
// src, srcset and poster attribute is made absolute with r. Everything else
// is copied byte for byte; only rewritten tags are re-serialised.
func cleanHTML(dst *bytes.Buffer, src []byte, r *urlResolver) {
	z := xhtml.NewTokenizer(bytes.NewReader(src))
	skip := "" // the element being dropped
	for {
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			if z.Err() != io.EOF {
				// The tokenizer only fails on read errors or its
				// buffer limit, neither of which applies to a []byte.
				dst.Write(z.Raw())
			}
			return
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			if skip != "" {
				continue
			}
			raw := z.Raw()
			if !hasURLAttr(raw) && !startsTag(raw, "style") && !startsTag(raw, "script") {
				dst.Write(raw)
				continue
			}
			name, hasAttr := z.TagName()
			if string(name) == "style" || string(name) == "script" {
				// The tokenizer reads their content as raw text up to the
				// end tag, even for <script/>.
				skip = string(name)
				continue
			}
			dst.WriteByte('<')
			dst.Write(name)
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				val := string(v)
				switch string(k) {
				case "href", "src", "poster":
					val = r.abs(val)
				case "srcset":
					val = r.absSrcset(val)
				}
				dst.WriteByte(' ')
				dst.Write(k)
				dst.WriteString(`="`)
				dst.WriteString(xhtml.EscapeString(val))
				dst.WriteByte('"')
			}
			if tt == xhtml.SelfClosingTagToken {
				dst.WriteString(" />")
			} else {
				dst.WriteByte('>')
			}
		case xhtml.EndTagToken:
			if skip != "" {
				if name, _ := z.TagName(); string(name) == skip {
					skip = ""
				}
				continue
			}
			dst.Write(z.Raw())
		default:
			if skip == "" {
				dst.Write(z.Raw())
			}
		}
	}
}

// hasURLAttr reports whether a raw start tag may carry a URL attribute
// (href, src, srcset, poster), ignoring ASCII case. False positives only
// cost a re-serialisation.
func hasURLAttr(raw []byte) bool {
	for i := 1; i+3 <= len(raw); i++ {
		c := raw[i] | 0x20
		if (c == 's' && raw[i+1]|0x20 == 'r' && raw[i+2]|0x20 == 'c') ||
			(c == 'h' && i+4 <= len(raw) && raw[i+1]|0x20 == 'r' && raw[i+2]|0x20 == 'e' && raw[i+3]|0x20 == 'f') ||
			(c == 'p' && i+6 <= len(raw) && strings.EqualFold(string(raw[i:i+6]), "poster")) {
			return true
		}
	}
	return false
}

// startsTag reports whether raw (a start tag) opens the element name,
// ignoring ASCII case.
func startsTag(raw []byte, name string) bool {
	if len(raw) < len(name)+2 || !strings.EqualFold(string(raw[1:1+len(name)]), name) {
		return false
	}
	c := raw[1+len(name)]
	return c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}
