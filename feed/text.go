package feed

import (
	"bytes"
	"io"
	"strconv"
	"strings"

	"github.com/gohugoio/hugo-goldmark-extensions/passthrough"
	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
	xhtml "golang.org/x/net/html"
)

// textWidth is the column at which plain-text paragraphs are wrapped (the
// usual width of plain-text mail).
const textWidth = 72

// textRenderer renders goldmark block nodes as plain text for the text/plain
// part of an email: paragraphs wrapped at textWidth columns, headings on a
// line of their own, lists as "- item" and "1. item" indented under their
// parent item, block quotes prefixed with "> ", code kept verbatim, images
// as "[image: alt]" (nothing when alt is empty), and links as "text [1]" with a numbered list of
// absolute URLs at the end.
type textRenderer struct {
	src   []byte
	res   *urlResolver
	width int

	b       strings.Builder
	pending string // prefix of the blank line owed before the next output line; "\x00" = none
	links   []string
	linkNum map[string]int
}

func newTextRenderer(src []byte, res *urlResolver) *textRenderer {
	return &textRenderer{src: src, res: res, width: textWidth, pending: "\x00"}
}

// blocks renders nodes, separated by blank lines.
func (t *textRenderer) blocks(nodes []ast.Node) {
	for _, n := range nodes {
		t.blank("")
		t.block(n, "", "")
	}
}

// String returns the text rendered so far followed by the link references.
func (t *textRenderer) String() string {
	s := strings.TrimRight(t.b.String(), "\n")
	if len(t.links) == 0 {
		return s
	}
	var b strings.Builder
	b.WriteString(s)
	b.WriteString("\n")
	for i, u := range t.links {
		b.WriteString("\n[")
		b.WriteString(strconv.Itoa(i + 1))
		b.WriteString("] ")
		b.WriteString(u)
	}
	return b.String()
}

// blank asks for a blank line (with prefix trimmed) before the next output.
func (t *textRenderer) blank(prefix string) {
	if t.b.Len() > 0 {
		t.pending = prefix
	}
}

func (t *textRenderer) line(prefix, s string) {
	if t.pending != "\x00" {
		t.b.WriteString(strings.TrimRight(t.pending, " "))
		t.b.WriteByte('\n')
		t.pending = "\x00"
	}
	t.b.WriteString(strings.TrimRight(prefix+s, " \t"))
	t.b.WriteByte('\n')
}

// wrap writes text word-wrapped; "\n" in text forces a line break.
func (t *textRenderer) wrap(text, first, rest string) {
	prefix := first
	for _, para := range strings.Split(text, "\n") {
		words := strings.Fields(para)
		if len(words) == 0 {
			continue
		}
		var cur strings.Builder
		n := 0
		for _, w := range words {
			wl := len([]rune(w))
			if n > 0 && t.width > 0 && len(prefix)+n+1+wl > t.width {
				t.line(prefix, cur.String())
				prefix = rest
				cur.Reset()
				n = 0
			}
			if n > 0 {
				cur.WriteByte(' ')
				n++
			}
			cur.WriteString(w)
			n += wl
		}
		t.line(prefix, cur.String())
		prefix = rest
	}
}

func (t *textRenderer) block(n ast.Node, first, rest string) {
	switch n := n.(type) {
	case *ast.Paragraph, *ast.TextBlock:
		t.wrap(t.inline(n), first, rest)
	case *ast.Heading:
		t.line(first, strings.Join(strings.Fields(t.inline(n)), " "))
	case *ast.List:
		num := n.Start
		for item := n.FirstChild(); item != nil; item = item.NextSibling() {
			marker := "- "
			if n.IsOrdered() {
				marker = strconv.Itoa(num) + ". "
				num++
			}
			if item != n.FirstChild() && !n.IsTight {
				t.blank(rest)
			}
			t.children(item, first+marker, rest+strings.Repeat(" ", len(marker)), n.IsTight)
			first = rest
		}
	case *ast.Blockquote:
		t.children(n, first+"> ", rest+"> ", false)
	case *ast.FencedCodeBlock, *ast.CodeBlock, *passthrough.PassthroughBlock:
		lines := n.Lines()
		for i := range lines.Len() {
			seg := lines.At(i)
			t.line(first, strings.TrimRight(string(seg.Value(t.src)), "\n"))
			first = rest
		}
	case *ast.HTMLBlock:
		var raw bytes.Buffer
		lines := n.Lines()
		for i := range lines.Len() {
			seg := lines.At(i)
			raw.Write(seg.Value(t.src))
		}
		if n.HasClosure() {
			raw.Write(n.ClosureLine.Value(t.src))
		}
		t.wrap(t.htmlText(raw.Bytes()), first, rest)
	case *ast.ThematicBreak:
		t.line(first, "----")
	case *east.Table:
		for row := n.FirstChild(); row != nil; row = row.NextSibling() {
			var cells []string
			for c := row.FirstChild(); c != nil; c = c.NextSibling() {
				cells = append(cells, strings.Join(strings.Fields(t.inline(c)), " "))
			}
			t.line(first, strings.Join(cells, " | "))
			first = rest
		}
	case *east.FootnoteList:
		// Footnotes are not part of a section.
	default:
		t.children(n, first, rest, false)
	}
}

// children renders n's child blocks; tight: no blank lines between them.
func (t *textRenderer) children(n ast.Node, first, rest string, tight bool) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if c != n.FirstChild() && !tight {
			t.blank(rest)
		}
		t.block(c, first, rest)
		first = rest
	}
}

// inline returns the text of n's inline content.
func (t *textRenderer) inline(n ast.Node) string {
	var b []byte
	b = t.appendInline(b, n)
	return string(b)
}

func (t *textRenderer) appendInline(b []byte, n ast.Node) []byte {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		switch c := c.(type) {
		case *ast.Text:
			b = appendUnescaped(b, c.Value(t.src))
			if c.HardLineBreak() {
				b = append(b, '\n')
			} else if c.SoftLineBreak() {
				b = append(b, ' ')
			}
		case *ast.String:
			b = append(b, c.Value...)
		case *ast.CodeSpan:
			b = append(b, '`')
			for x := c.FirstChild(); x != nil; x = x.NextSibling() {
				if x, ok := x.(*ast.Text); ok {
					b = append(b, x.Value(t.src)...)
				}
			}
			b = append(b, '`')
		case *passthrough.PassthroughInline:
			b = append(b, c.Segment.Value(t.src)...)
		case *ast.Link:
			start := len(b)
			b = t.appendInline(b, c)
			b = t.appendRef(b, string(b[start:]), t.res.abs(string(c.Destination)))
		case *ast.AutoLink:
			u := string(c.URL(t.src))
			if c.AutoLinkType == ast.AutoLinkEmail && !strings.HasPrefix(strings.ToLower(u), "mailto:") {
				b = append(b, u...)
			} else {
				b = append(b, t.res.abs(u)...)
			}
		case *ast.Image:
			// an image without alt text is decoration: nothing to say
			if alt := appendNodeText(nil, c, t.src, false); len(bytes.TrimSpace(alt)) > 0 {
				b = append(b, "[image: "...)
				b = append(b, alt...)
				b = append(b, ']')
			}
		case *ast.RawHTML:
			var raw []byte
			for i := range c.Segments.Len() {
				seg := c.Segments.At(i)
				raw = append(raw, seg.Value(t.src)...)
			}
			if startsTag(raw, "br") {
				b = append(b, '\n')
			}
		case *east.TaskCheckBox:
			if c.IsChecked {
				b = append(b, "[x] "...)
			} else {
				b = append(b, "[ ] "...)
			}
		case *east.FootnoteLink:
			b = append(b, "[^"...)
			b = strconv.AppendInt(b, int64(c.Index), 10)
			b = append(b, ']')
		default:
			b = t.appendInline(b, c)
		}
	}
	return b
}

// appendRef appends " [n]" for a link to u whose text is text, numbering
// each distinct URL once; a link whose text is its URL gets no number.
func (t *textRenderer) appendRef(b []byte, text, u string) []byte {
	if u == "" || strings.TrimSpace(text) == u {
		return b
	}
	n, ok := t.linkNum[u]
	if !ok {
		if t.linkNum == nil {
			t.linkNum = make(map[string]int)
		}
		t.links = append(t.links, u)
		n = len(t.links)
		t.linkNum[u] = n
	}
	b = append(b, " ["...)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, ']')
}

// htmlText extracts readable text from a raw HTML block: text content,
// "[image: alt]" for images (a figure's caption is not repeated after its
// image), links numbered like Markdown links, no <style> or <script>;
// block elements and <br> break lines.
func (t *textRenderer) htmlText(src []byte) string {
	z := xhtml.NewTokenizer(bytes.NewReader(src))
	var b []byte
	skip := ""
	href, linkStart := "", -1
	figImage := false
	for {
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			if z.Err() == io.EOF {
				return string(b)
			}
			return string(b)
		case xhtml.TextToken:
			if skip == "" {
				b = append(b, z.Text()...)
			}
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			if skip != "" {
				continue
			}
			attrs := map[string]string{}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				attrs[string(k)] = string(v)
			}
			switch tag {
			case "style", "script":
				skip = tag
			case "figcaption":
				if figImage {
					skip = tag
				}
			case "figure":
				figImage = false
			case "img":
				if alt := strings.TrimSpace(attrs["alt"]); alt != "" {
					b = append(b, "[image: "...)
					b = append(b, alt...)
					b = append(b, "] "...)
				}
				figImage = strings.TrimSpace(attrs["alt"]) != ""
			case "a":
				href, linkStart = attrs["href"], len(b)
			case "br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre":
				b = append(b, '\n')
			}
		case xhtml.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			if skip != "" {
				if tag == skip {
					skip = ""
				}
				continue
			}
			switch tag {
			case "a":
				if linkStart >= 0 && href != "" {
					b = t.appendRef(b, string(b[linkStart:]), t.res.abs(href))
				}
				href, linkStart = "", -1
			case "p", "div", "li", "tr", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre":
				b = append(b, '\n')
			}
		}
	}
}

// flatText is the text of nodes as one paragraph: whitespace collapsed, no
// link numbers (for Rendered.SummaryText).
func flatText(nodes []ast.Node, src []byte) string {
	var b []byte
	for _, n := range nodes {
		b = appendFlat(b, n, src)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

func appendFlat(b []byte, n ast.Node, src []byte) []byte {
	if n.Type() == ast.TypeBlock && (n.FirstChild() == nil || n.FirstChild().Type() == ast.TypeBlock) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			b = appendFlat(b, c, src)
		}
		return b
	}
	b = appendNodeText(b, n, src, false)
	return append(b, ' ')
}
