package feed

import (
	"bufio"
	"bytes"
	"io"
	"net/url"
	"strings"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	grenderer "github.com/yuin/goldmark/renderer"
	ghtml "github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/util"
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

// htmlWriter is what cleanHTML writes to (a bytes.Buffer, a bufio.Writer).
type htmlWriter interface {
	io.Writer
	io.ByteWriter
	io.StringWriter
}

// cleanHTML copies the HTML in src to dst in one tokenizer pass: <style>
// and <script> elements are dropped with their content, comments are
// dropped, and every href,
// src, srcset and poster attribute is made absolute with r. Everything else
// is copied byte for byte; only rewritten tags are re-serialised.
func cleanHTML(dst htmlWriter, src []byte, r *urlResolver) {
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
		case xhtml.CommentToken:
			// HTML comments are not content: feeds and mail drop them.
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

// cleanWriter is the writer goldmark renders into: it carries the post's
// URL resolver to urlRenderer, which has no other per-render state.
type cleanWriter struct {
	*bufio.Writer
	res     *urlResolver
	scratch bytes.Buffer
	sw      *bufio.Writer
}

func newCleanWriter(w io.Writer, res *urlResolver) *cleanWriter {
	cw := &cleanWriter{Writer: bufio.NewWriter(w), res: res}
	cw.sw = bufio.NewWriterSize(&cw.scratch, 512)
	return cw
}

// urlRenderer renders the nodes that carry URLs or raw HTML (links,
// images, footnote references, inline and block raw HTML) with goldmark's
// own renderers and passes their output through cleanHTML, so that the
// HTML goldmark generates itself is never tokenized: one pass, only over
// what needs it.
type urlRenderer struct {
	funcs map[ast.NodeKind]grenderer.NodeRendererFunc
}

// funcCapture collects a NodeRenderer's functions.
type funcCapture map[ast.NodeKind]grenderer.NodeRendererFunc

// Register implements renderer.NodeRendererFuncRegisterer.
func (c funcCapture) Register(k ast.NodeKind, f grenderer.NodeRendererFunc) { c[k] = f }

func newURLRenderer() *urlRenderer {
	all := funcCapture{}
	ghtml.NewRenderer(ghtml.WithUnsafe()).RegisterFuncs(all)
	extension.NewFootnoteHTMLRenderer().RegisterFuncs(all)
	u := &urlRenderer{funcs: map[ast.NodeKind]grenderer.NodeRendererFunc{
		ast.KindLink:  absDestination(all[ast.KindLink]),
		ast.KindImage: absDestination(all[ast.KindImage]),
	}}
	// Raw HTML had its URLs made absolute in the Markdown source
	// (rewriteTagURLs) and its <style> and <script> elements removed (the
	// Liquid pass); it is only cleaned here if one is left, in a place the
	// Liquid pass took for code. Footnote links are generated "#fn:1".
	for _, k := range []ast.NodeKind{ast.KindRawHTML, ast.KindHTMLBlock} {
		u.funcs[k] = cleaned(all[k], hasScriptOrStyle)
	}
	for _, k := range []ast.NodeKind{east.KindFootnoteLink, east.KindFootnoteBacklink} {
		u.funcs[k] = cleaned(all[k], func([]byte) bool { return true })
	}
	return u
}

// absDestination wraps the renderer of links or images: the destination is
// made absolute for the call.
func absDestination(f grenderer.NodeRendererFunc) grenderer.NodeRendererFunc {
	return func(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
		cw, ok := w.(*cleanWriter)
		if !ok || !entering {
			return f(w, src, n, entering)
		}
		var dest *[]byte
		switch n := n.(type) {
		case *ast.Link:
			dest = &n.Destination
		case *ast.Image:
			dest = &n.Destination
		default:
			return f(w, src, n, entering)
		}
		old := *dest
		*dest = []byte(cw.res.abs(string(old)))
		defer func() { *dest = old }()
		return f(w, src, n, entering)
	}
}

// RegisterFuncs implements goldmark's renderer.NodeRenderer.
func (u *urlRenderer) RegisterFuncs(reg grenderer.NodeRendererFuncRegisterer) {
	for k, f := range u.funcs {
		reg.Register(k, f)
	}
}

// cleaned wraps a node renderer function: what it writes goes through
// cleanHTML with the resolver of the cleanWriter being rendered into, when
// need says so.
func cleaned(f grenderer.NodeRendererFunc, need func([]byte) bool) grenderer.NodeRendererFunc {
	return func(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
		cw, ok := w.(*cleanWriter)
		if !ok {
			return f(w, src, n, entering)
		}
		cw.scratch.Reset()
		cw.sw.Reset(&cw.scratch)
		st, err := f(cw.sw, src, n, entering)
		if ferr := cw.sw.Flush(); err == nil {
			err = ferr
		}
		if b := cw.scratch.Bytes(); need(b) {
			cleanHTML(cw.Writer, b, cw.res)
		} else {
			_, _ = cw.Write(b)
		}
		return st, err
	}
}

// hasScriptOrStyle reports whether html may hold a <script> or <style>
// element (the Liquid pass removes them from the source; this is the
// safety net for what it could not see) or a comment.
func hasScriptOrStyle(html []byte) bool {
	if bytes.Contains(html, []byte("<!--")) {
		return true
	}
	for i := 0; i < len(html); i++ {
		j := bytes.IndexByte(html[i:], '<')
		if j < 0 {
			return false
		}
		i += j
		if i+1 < len(html) && html[i+1]|0x20 == 's' && (startsTag(html[i:], "script") || startsTag(html[i:], "style")) {
			return true
		}
	}
	return false
}

// rewriteTagURLs makes the URL attributes (href, src, srcset, poster) of
// the raw HTML start tags in md absolute; tags holds the offsets of their
// "<" (see liquidTags). A tag is parsed as CommonMark defines an open tag
// (what goldmark passes through as raw HTML); anything else is left alone.
// The rewritten Markdown is appended to dst; ok is false (and dst
// untouched) when no tag had a URL attribute.
func rewriteTagURLs(dst, md []byte, tags []int, r *urlResolver) (out []byte, ok bool) {
	last := 0
	for _, t := range tags {
		if t < last {
			continue
		}
		attrs, end := parseOpenTag(md, t)
		if end < 0 {
			continue
		}
		for _, a := range attrs {
			if !ok {
				dst, ok = append(dst, md[:last]...), true
			}
			dst = append(dst, md[last:a.start]...)
			val := string(md[a.start:a.end])
			if strings.IndexByte(val, '&') >= 0 {
				val = xhtml.UnescapeString(val)
			}
			if a.srcset {
				val = r.absSrcset(val)
			} else {
				val = r.abs(val)
			}
			if a.quote == 0 {
				dst = append(dst, '"')
			}
			dst = append(dst, xhtml.EscapeString(val)...)
			if a.quote == 0 {
				dst = append(dst, '"')
			}
			last = a.end
		}
		if len(attrs) > 0 {
			last = max(last, end)
			if ok {
				dst = append(dst, md[attrs[len(attrs)-1].end:end]...)
			}
		}
	}
	if !ok {
		return dst, false
	}
	return append(dst, md[last:]...), true
}

// urlAttr is the value span of a URL attribute in a tag.
type urlAttr struct {
	start, end int  // the value, without quotes
	quote      byte // '"', '\'' or 0 (unquoted)
	srcset     bool
}

// parseOpenTag parses a CommonMark open tag at md[pos] ("<"): tag name,
// attributes, optional "/", ">", with single line breaks allowed between
// attributes. It returns the URL attributes' values and the offset after
// ">", or -1 when md[pos:] does not start an open tag.
func parseOpenTag(md []byte, pos int) ([]urlAttr, int) {
	i := pos + 1
	if i >= len(md) || !isASCIILetter(md[i]) {
		return nil, -1
	}
	for i < len(md) && (isASCIILetter(md[i]) || md[i] >= '0' && md[i] <= '9' || md[i] == '-') {
		i++
	}
	var attrs []urlAttr
	for {
		// Whitespace, at most one line break.
		ws, nl := i, 0
		for i < len(md) && (md[i] == ' ' || md[i] == '\t' || md[i] == '\n') {
			if md[i] == '\n' {
				if nl++; nl > 1 {
					return nil, -1
				}
			}
			i++
		}
		if i >= len(md) {
			return nil, -1
		}
		switch {
		case md[i] == '>':
			return attrs, i + 1
		case md[i] == '/' && i+1 < len(md) && md[i+1] == '>':
			return attrs, i + 2
		}
		if i == ws { // attributes need whitespace before them
			return nil, -1
		}
		c := md[i]
		if !(isASCIILetter(c) || c == '_' || c == ':') {
			return nil, -1
		}
		ns := i
		for i < len(md) && (isASCIILetter(md[i]) || md[i] >= '0' && md[i] <= '9' || strings.IndexByte("_.:-", md[i]) >= 0) {
			i++
		}
		name := md[ns:i]
		j := i
		for j < len(md) && (md[j] == ' ' || md[j] == '\t' || md[j] == '\n') {
			j++
		}
		if j >= len(md) || md[j] != '=' {
			continue // an attribute without a value
		}
		i = j + 1
		for i < len(md) && (md[i] == ' ' || md[i] == '\t' || md[i] == '\n') {
			i++
		}
		if i >= len(md) {
			return nil, -1
		}
		a := urlAttr{quote: md[i]}
		switch a.quote {
		case '"', '\'':
			e := bytes.IndexByte(md[i+1:], a.quote)
			if e < 0 {
				return nil, -1
			}
			a.start, a.end = i+1, i+1+e
			i = a.end + 1
		default:
			a.quote = 0
			a.start = i
			for i < len(md) && strings.IndexByte(" \t\n\"'=<>`", md[i]) < 0 {
				i++
			}
			if i == a.start {
				return nil, -1
			}
			a.end = i
		}
		switch {
		case strings.EqualFold(string(name), "href"), strings.EqualFold(string(name), "src"), strings.EqualFold(string(name), "poster"):
			attrs = append(attrs, a)
		case strings.EqualFold(string(name), "srcset"):
			a.srcset = true
			attrs = append(attrs, a)
		}
	}
}
