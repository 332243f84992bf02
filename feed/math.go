package feed

import (
	"github.com/gohugoio/hugo-goldmark-extensions/passthrough"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	grenderer "github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// mathExtension returns the goldmark extension that keeps TeX math as
// written: `$$…$$` and `$…$` are passed through the Markdown parser
// untouched (no emphasis in `$a_1_b$`) and written HTML-escaped with their
// delimiters, for MathJax or KaTeX on the reader's side.
//
// Every delimiter is registered as inline: with `$$` as a passthrough block
// delimiter the extension splits `text $$x$$ text` into three blocks (see
// LIBRARIES.md). A `$$` display block on its own lines is then a paragraph
// holding one inline passthrough, which renders as `<p>$$…$$</p>`.
//
// The extension's AST transformer is left out: it only splits paragraphs
// at block delimiters, of which there are none here, and otherwise rebuilds
// every paragraph holding math into an equal copy, which cost 5% of a
// post's rendering.
func mathExtension() goldmark.Extender { return mathExtender{} }

type mathExtender struct{}

// Extend adds the passthrough extension's inline parser and renderers to m,
// not its AST transformer.
func (mathExtender) Extend(m goldmark.Markdown) {
	c := &parserCapture{Markdown: m}
	passthrough.New(passthrough.Config{
		// A single "$" is dollarParser's, which follows kramdown's rules.
		InlineDelimiters: []passthrough.Delimiters{{Open: "$$", Close: "$$"}},
	}).Extend(c)
	conf := parser.NewConfig()
	for _, o := range c.opts {
		o.SetParserOption(conf)
	}
	m.Parser().AddOptions(
		parser.WithBlockParsers(conf.BlockParsers...),
		parser.WithInlineParsers(util.Prioritized(dollarParser{}, 1000)),
		parser.WithInlineParsers(conf.InlineParsers...),
		parser.WithParagraphTransformers(conf.ParagraphTransformers...),
	)
}

// singleDollar are the delimiters of `$…$` math.
var singleDollar = passthrough.Delimiters{Open: "$", Close: "$"}

// dollarParser reads `$…$` inline math, GFM-style, with the rules that keep
// money out of it: the opening "$" is followed by neither a space nor a
// digit (a dollar amount never opens math), and the closing "$" is
// preceded by no space, not escaped, and followed by no digit. `$$` is left
// to the passthrough parser; anything else stays text.
type dollarParser struct{}

// Trigger implements parser.InlineParser.
func (dollarParser) Trigger() []byte { return []byte{'$'} }

// Parse implements parser.InlineParser.
func (dollarParser) Parse(_ ast.Node, block text.Reader, _ parser.Context) ast.Node {
	line, start := block.PeekLine()
	if len(line) < 3 || line[1] == '$' || line[1] == ' ' || line[1] == '\t' || line[1] == '\n' || isDigit(line[1]) {
		return nil
	}
	l, pos := block.Position()
	block.Advance(1)
	for {
		line, seg := block.PeekLine()
		if line == nil {
			block.SetPosition(l, pos)
			return nil
		}
		for i := 0; i < len(line); i++ {
			switch line[i] {
			case '\\':
				i++ // an escaped character, "\$" included
				continue
			case '$':
			default:
				continue
			}
			if i+1 < len(line) && line[i+1] == '$' { // "$$" inside: not a closer
				i++
				continue
			}
			if (i > 0 && (line[i-1] == ' ' || line[i-1] == '\t')) || (i+1 < len(line) && isDigit(line[i+1])) {
				continue
			}
			block.Advance(i + 1)
			return &passthrough.PassthroughInline{Segment: start.WithStop(seg.Start + i + 1), Delimiters: &singleDollar}
		}
		block.AdvanceLine()
	}
}

// parserCapture is a goldmark.Markdown whose parser only collects the
// options an extension adds; its renderer is the real one.
type parserCapture struct {
	goldmark.Markdown
	opts []parser.Option
}

func (c *parserCapture) Parser() parser.Parser { return c }

// AddOptions implements parser.Parser.
func (c *parserCapture) AddOptions(opts ...parser.Option) { c.opts = append(c.opts, opts...) }

// Parse implements parser.Parser; it is never called.
func (c *parserCapture) Parse(text.Reader, ...parser.ParseOption) ast.Node {
	panic("feed: parserCapture.Parse")
}

// mathRenderer writes passthrough nodes HTML-escaped; the extension's own
// renderer writes them raw, so `$a<b$` would break the HTML.
type mathRenderer struct{}

// RegisterFuncs implements goldmark's renderer.NodeRenderer.
func (mathRenderer) RegisterFuncs(reg grenderer.NodeRendererFuncRegisterer) {
	reg.Register(passthrough.KindPassthroughInline, renderMathInline)
	reg.Register(passthrough.KindPassthroughBlock, renderMathBlock)
}

func renderMathInline(w util.BufWriter, source []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if entering {
		if m, ok := n.(*passthrough.PassthroughInline); ok {
			writeEscaped(w, m.Segment.Value(source))
		}
	}
	return ast.WalkSkipChildren, nil
}

func renderMathBlock(w util.BufWriter, source []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if entering {
		lines := n.Lines()
		for i := range lines.Len() {
			seg := lines.At(i)
			writeEscaped(w, seg.Value(source))
		}
		_ = w.WriteByte('\n')
	}
	return ast.WalkSkipChildren, nil
}

// writeEscaped writes b with the five characters html.EscapeString escapes
// replaced by entities, without allocating.
func writeEscaped(w util.BufWriter, b []byte) {
	last := 0
	for i, c := range b {
		var esc string
		switch c {
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '&':
			esc = "&amp;"
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		default:
			continue
		}
		_, _ = w.Write(b[last:i])
		_, _ = w.WriteString(esc)
		last = i + 1
	}
	_, _ = w.Write(b[last:])
}

// mathText returns the TeX source of a passthrough node without its
// delimiters, for heading ids (kramdown includes math text in them).
func mathText(n *passthrough.PassthroughInline, source []byte) []byte {
	v := n.Segment.Value(source)
	if d := n.Delimiters; d != nil && len(v) >= len(d.Open)+len(d.Close) {
		return v[len(d.Open) : len(v)-len(d.Close)]
	}
	return v
}
