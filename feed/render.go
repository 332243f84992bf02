package feed

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	grenderer "github.com/yuin/goldmark/renderer"
	ghtml "github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
	xhtml "golang.org/x/net/html"
)

// renderCacheSize bounds the rendered-HTML cache: enough for every feed of
// a usual configuration (feeds.limit = 20) and the posts being mailed,
// small enough that 10,000 posts with full content are not all kept.
const renderCacheSize = 256

// renderer turns a post's Markdown body into feed HTML. It holds one
// goldmark instance, built once, and is safe for concurrent use.
type renderer struct {
	site *Site
	md   goldmark.Markdown

	mu    sync.Mutex
	cache map[string]*Rendered
	order []string // cache keys, oldest first

	srcs sync.Pool // *[]byte: Markdown after Liquid
	bufs sync.Pool // *bytes.Buffer: rendered HTML before it is copied out
	cws  sync.Pool // *cleanWriter: the writers goldmark renders into
}

// newRenderer builds the goldmark pipeline: GFM tables, strikethrough and
// task lists, footnotes, raw HTML kept (html.WithUnsafe), no Linkify (Jekyll
// does not autolink bare URLs, so extension.GFM is not used), kramdown's
// typography (smart quotes, en and em dashes, ellipses and guillemets, as
// characters rather than entities so that plain text gets them too),
// emphasis next to CJK punctuation (cjkEmphasisParser), kramdown heading
// ids and block attribute lists, and math passed through escaped.
func newRenderer(site *Site) *renderer {
	md := goldmark.New(
		goldmark.WithExtensions(
			extension.Table,
			extension.Strikethrough,
			extension.TaskList,
			extension.Footnote,
			extension.NewTypographer(extension.WithTypographicSubstitutions(map[extension.TypographicPunctuation]string{
				extension.LeftSingleQuote: "‘", extension.RightSingleQuote: "’", extension.Apostrophe: "’",
				extension.LeftDoubleQuote: "“", extension.RightDoubleQuote: "”",
				extension.EnDash: "–", extension.EmDash: "—", extension.Ellipsis: "…",
				extension.LeftAngleQuote: "«", extension.RightAngleQuote: "»",
			})),
			mathExtension(),
		),
		goldmark.WithParserOptions(
			parser.WithInlineParsers(util.Prioritized(cjkEmphasisParser{}, 499)),
			parser.WithASTTransformers(util.Prioritized(ialTransformer{}, 900), util.Prioritized(headingIDs{}, 1000)),
		),
		goldmark.WithRendererOptions(
			ghtml.WithUnsafe(),
			grenderer.WithNodeRenderers(
				util.Prioritized(mathRenderer{}, 10),
				util.Prioritized(newURLRenderer(), 10),
			),
		),
	)
	r := &renderer{site: site, md: md, cache: make(map[string]*Rendered)}
	r.srcs.New = func() any { b := make([]byte, 0, 16<<10); return &b }
	r.bufs.New = func() any { return new(bytes.Buffer) }
	return r
}

// renderInput is everything the renderer needs about one post.
type renderInput struct {
	Src              []byte // Markdown body after the front matter, LF line endings
	File             string // for messages
	Line             int    // file line of Src's first line (1-based)
	PostURL          string // absolute; "" means the site's home
	Title            string // the summary of last resort
	Description      string
	ExcerptSeparator string
	Resolve          func(kind, arg string) (string, bool) // {% post_url %} and {% link %}; nil: none resolve
	Warn             func(line int, msg string)            // file line; nil: warnings dropped
}

// parsed is a post after Liquid and goldmark parsing.
type parsed struct {
	src  []byte // the Markdown after Liquid, which the AST's segments index
	doc  ast.Node
	res  *urlResolver
	buf  *[]byte    // src's pooled buffer
	pool *sync.Pool // where buf goes back
}

func (r *renderer) parse(in *renderInput) (*parsed, error) {
	postURL := in.PostURL
	if postURL == "" {
		postURL = r.site.URL + r.site.BaseURL + "/"
	}
	res, err := newURLResolver(postURL)
	if err != nil {
		return nil, fmt.Errorf("feed: %s: post URL %q: %w", in.File, postURL, err)
	}
	buf := r.srcs.Get().(*[]byte)
	src, tags := r.liquidTags((*buf)[:0], in.Src, in)
	if len(tags) > 0 {
		buf2 := r.srcs.Get().(*[]byte)
		if out, ok := rewriteTagURLs((*buf2)[:0], src, tags, res); ok {
			*buf = src[:0]
			r.srcs.Put(buf)
			buf, src = buf2, out
		} else {
			r.srcs.Put(buf2)
		}
	}
	doc := r.md.Parser().Parse(text.NewReader(src))
	return &parsed{src: src, doc: doc, res: res, buf: buf, pool: &r.srcs}, nil
}

// release returns d's source buffer to the pool; d must not be used after.
func (d *parsed) release() {
	if d.buf != nil && cap(d.src) <= 1<<20 {
		*d.buf = d.src[:0]
		d.pool.Put(d.buf)
	}
	d.buf, d.src, d.doc = nil, nil, nil
}

// renderNodes renders nodes (the document, or some of its blocks) to HTML
// and cleans it: absolute URLs, no <style> or <script>.
func (r *renderer) renderNodes(d *parsed, nodes []ast.Node) (string, error) {
	raw := r.bufs.Get().(*bytes.Buffer)
	defer r.bufs.Put(raw)
	raw.Reset()
	w, _ := r.cws.Get().(*cleanWriter)
	if w == nil {
		w = newCleanWriter(raw, d.res)
	} else {
		w.Reset(raw)
		w.res = d.res
	}
	defer func() {
		w.Reset(nil)
		w.res = nil
		r.cws.Put(w)
	}()
	for _, n := range nodes {
		if err := r.md.Renderer().Render(w, d.src, n); err != nil {
			return "", fmt.Errorf("feed: render: %w", err)
		}
	}
	// Every raw HTML node went through cleanHTML (see urlRenderer), and
	// goldmark escapes everything else: no <style> or <script> start tag
	// is left.
	return raw.String(), nil
}

// render renders a whole post: its HTML and its summary.
func (r *renderer) render(in *renderInput) (*Rendered, error) {
	d, err := r.parse(in)
	if err != nil {
		return nil, err
	}
	defer d.release()
	body, err := r.renderNodes(d, []ast.Node{d.doc})
	if err != nil {
		return nil, fmt.Errorf("feed: %s: %w", in.File, err)
	}
	out := &Rendered{HTML: body}
	if desc := strings.TrimSpace(in.Description); desc != "" {
		out.SummaryHTML = "<p>" + html.EscapeString(desc) + "</p>"
		out.SummaryText = strings.Join(strings.Fields(desc), " ")
		return out, nil
	}
	ex, err := r.excerpt(in, d)
	if err != nil {
		return nil, err
	}
	if ex != nil {
		if ex.parsed != d {
			defer ex.parsed.release()
		}
		if out.SummaryHTML, err = r.renderNodes(ex.parsed, ex.nodes); err != nil {
			return nil, fmt.Errorf("feed: %s: %w", in.File, err)
		}
		out.SummaryText = flatText(ex.nodes, ex.src)
	}
	if out.SummaryText == "" {
		// No paragraph to take (a body that starts with raw HTML, or an
		// empty one): the rendered body's text, else the title. An entry
		// always has a summary.
		out.SummaryText = truncateText(htmlText(out.HTML), summaryMax)
		if out.SummaryText == "" {
			out.SummaryText = oneLine(in.Title)
		}
		out.SummaryHTML = ""
		if out.SummaryText != "" {
			out.SummaryHTML = "<p>" + html.EscapeString(out.SummaryText) + "</p>"
		}
	}
	if !strings.Contains(out.SummaryHTML, "<pre") {
		out.SummaryHTML = strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(out.SummaryHTML, "\r", ""), "\n", " "))
	}
	return out, nil
}

// summaryMax is the length, in characters, of a summary taken from a
// post's rendered text.
const summaryMax = 300

// htmlText is the text of an HTML fragment on one line: tags, comments,
// scripts and styles dropped, entities decoded, white space collapsed.
func htmlText(s string) string {
	z := xhtml.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0
	for {
		switch z.Next() {
		case xhtml.ErrorToken:
			return strings.Join(strings.Fields(b.String()), " ")
		case xhtml.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case xhtml.StartTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style":
				skip++
			case "p", "div", "li", "br", "figcaption", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th":
				b.WriteByte(' ')
			}
		case xhtml.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style":
				skip = max(0, skip-1)
			default:
				b.WriteByte(' ')
			}
		}
	}
}

// truncateText cuts s to at most n characters at a word boundary, adding
// "…" when it cut.
func truncateText(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n]
	cut := string(r)
	if i := strings.LastIndexByte(cut, ' '); i > n/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,;:") + "…"
}

// excerptNodes is a post's excerpt: blocks of a parsed document.
type excerptNodes struct {
	*parsed
	nodes []ast.Node
}

// excerpt finds the excerpt as Jekyll does, with one difference: the text
// before excerpt_separator when it is set and present; else the first
// paragraph of the post. Jekyll takes the first block, whatever it is; a
// table of contents, a heading or a figure makes a poor summary, so the
// first top-level paragraph is taken instead. nil when there is none.
func (r *renderer) excerpt(in *renderInput, d *parsed) (*excerptNodes, error) {
	if sep := in.ExcerptSeparator; sep != "" {
		if i := bytes.Index(in.Src, []byte(sep)); i >= 0 {
			sub := *in
			sub.Src = in.Src[:i]
			sub.Warn = nil // already reported for the whole body
			e, err := r.parse(&sub)
			if err != nil {
				return nil, err
			}
			var nodes []ast.Node
			for c := e.doc.FirstChild(); c != nil; c = c.NextSibling() {
				nodes = append(nodes, c)
			}
			if len(nodes) > 0 {
				return &excerptNodes{parsed: e, nodes: nodes}, nil
			}
		}
	}
	for c := d.doc.FirstChild(); c != nil; c = c.NextSibling() {
		if c.Kind() == ast.KindParagraph {
			return &excerptNodes{parsed: d, nodes: []ast.Node{c}}, nil
		}
	}
	return nil, nil
}

// cached returns the cached rendering for key.
func (r *renderer) cached(key string) (*Rendered, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.cache[key]
	return v, ok
}

// store caches v under key, evicting the oldest entry when full.
func (r *renderer) store(key string, v *Rendered) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.cache[key]; ok {
		return
	}
	if len(r.order) >= renderCacheSize {
		delete(r.cache, r.order[0])
		r.order = r.order[1:]
	}
	r.cache[key] = v
	r.order = append(r.order, key)
}

// input reads p's body and describes it for the renderer; warnings go to
// warn. The caller must pass the returned buffer to putBody when done with
// the input.
func (l *Loader) input(ctx context.Context, p *Post, warn func(line int, msg string)) (*renderInput, *[]byte, error) {
	buf, _ := l.bodies.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	src, line, data, err := l.bodyInto(ctx, p, *buf)
	*buf = data
	if err != nil {
		l.putBody(buf)
		return nil, nil, err
	}
	return &renderInput{
		Src:              src,
		File:             p.File,
		Line:             line,
		PostURL:          p.URL,
		Title:            p.Title,
		Description:      p.Description,
		ExcerptSeparator: p.ExcerptSeparator,
		Resolve:          l.resolve,
		Warn:             warn,
	}, buf, nil
}

// putBody returns a buffer of input to the pool.
func (l *Loader) putBody(buf *[]byte) {
	if buf != nil && cap(*buf) <= 1<<20 {
		*buf = (*buf)[:0]
		l.bodies.Put(buf)
	}
}

// logWarn returns a Warn function logging p's warnings with file and line.
func (l *Loader) logWarn(p *Post) func(line int, msg string) {
	return func(line int, msg string) {
		if l.log != nil {
			l.log.Warn(msg, "file", p.File, "line", line)
		}
	}
}

// Section returns the part of p under the heading called name (the
// mail.section setting; "" means "TLDR"), rendered as HTML like Render's
// and as plain text. "5. TLDR", "TL;DR" and "TL DR" headings match "TLDR"
// at any level. Without such a heading it falls back to the description,
// then to the excerpt (Fallback set); with neither it returns an error
// wrapping ErrNoSection. With maxHTML > 0 the section's HTML is bounded to
// that many bytes: it keeps the whole blocks that fit (or the start of the
// first block's text) and Truncated is set.
func (l *Loader) Section(ctx context.Context, p *Post, name string, maxHTML int) (*Section, error) {
	in, buf, err := l.input(ctx, p, nil) // Render reports the warnings
	if err != nil {
		return nil, err
	}
	defer l.putBody(buf)
	s, err := l.r.sectionMax(in, name, maxHTML)
	if err != nil {
		return nil, fmt.Errorf("feed: %s: section %q: %w", p.File, name, err)
	}
	return s, nil
}

// Check renders p (uncached) and returns its warnings as Problems with
// Warning set, for `herald check`; a post that cannot be read or rendered
// gives one error Problem.
func (l *Loader) Check(ctx context.Context, p *Post) []Problem {
	var probs []Problem
	in, buf, err := l.input(ctx, p, func(line int, msg string) {
		probs = append(probs, Problem{File: p.File, Line: line, Msg: msg, Warning: true})
	})
	if err == nil {
		_, err = l.r.render(in)
		l.putBody(buf)
	}
	if err != nil {
		probs = append(probs, Problem{File: p.File, Msg: err.Error()})
	}
	return probs
}
