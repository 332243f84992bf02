package feed

import (
	"bytes"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/gohugoio/hugo-goldmark-extensions/passthrough"
	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// headingIDs is a goldmark AST transformer giving every heading the id
// Jekyll gives it. Jekyll's default Markdown converter is kramdown with the
// GFM parser (kramdown-parser-gfm), whose rule in lib/kramdown/parser/gfm.rb
// is:
//
//	NON_WORD_RE = /[^\p{Word}\- \t]/
//	def generate_gfm_header_id(text)
//	  result = text.downcase
//	  result.gsub!(NON_WORD_RE, '')
//	  result.tr!(" \t", '-')
//	  @id_counter[result] += 1
//	  result << (@id_counter[result] > 0 ? "-#{@id_counter[result]}" : '')
//
// where text is the heading's "raw text" (update_raw_text): the text of its
// text, code span and math children, entities and typographic symbols as
// characters, no markup, no image alt text. So `# 5. TLDR` is "5-tldr",
// `## 2.1. Why Role Overlap Exists` is "21-why-role-overlap-exists", an é
// and an underscore are kept, and a heading whose id comes out empty gets no
// id attribute (its empty id still counts for the "-1" numbering, as in
// kramdown's header_ids test case).
//
// goldmark's typographer is off (text is kept as written), but kramdown
// turns `--` and `---` into dashes that the rule then drops, so the id text
// drops those runs the same way.
type headingIDs struct{}

// Transform implements parser.ASTTransformer.
func (headingIDs) Transform(doc *ast.Document, reader text.Reader, _ parser.Context) {
	src := reader.Source()
	var used map[string]int
	var buf []byte
	for n := doc.FirstChild(); n != nil; n = nextBlock(n) {
		h, ok := n.(*ast.Heading)
		if !ok {
			continue
		}
		if _, ok := h.AttributeString("id"); ok {
			continue
		}
		buf = appendNodeText(buf[:0], h, src, true)
		id := gfmHeaderID(buf)
		if used == nil {
			used = make(map[string]int)
		}
		c, seen := used[id]
		if seen {
			c++
			used[id] = c
			id += "-" + strconv.Itoa(c)
		} else {
			used[id] = 0
		}
		if id != "" {
			h.SetAttributeString("id", []byte(id))
		}
	}
}

// nextBlock walks the block tree depth-first (headings may sit in block
// quotes and list items) without descending into inline content.
func nextBlock(n ast.Node) ast.Node {
	if c := n.FirstChild(); c != nil && c.Type() == ast.TypeBlock && n.Kind() != ast.KindHeading {
		return c
	}
	for ; n != nil; n = n.Parent() {
		if s := n.NextSibling(); s != nil {
			return s
		}
	}
	return nil
}

// gfmHeaderID applies kramdown-parser-gfm's generate_gfm_header_id to the
// heading's raw text (without the duplicate counter).
func gfmHeaderID(raw []byte) string {
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c < utf8.RuneSelf {
			switch {
			case c == ' ' || c == '\t' || c == '-':
				b = append(b, '-')
			case 'A' <= c && c <= 'Z':
				b = append(b, c+'a'-'A')
			case c == '_' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(raw[i:])
		i += n
		if r = unicode.ToLower(r); isWordRune(r) {
			b = utf8.AppendRune(b, r)
		}
	}
	return string(b)
}

// isWordRune reports whether r is in Ruby's \p{Word}: letters, marks,
// numbers and connector punctuation (such as '_').
func isWordRune(r rune) bool {
	if r < 0x80 {
		return r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
	}
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r) || unicode.Is(unicode.Pc, r)
}

// appendNodeText appends the plain text of n's inline descendants: text
// with backslash escapes and entities resolved, code span text, math
// source, link text; no raw HTML tags, no image alt text, no footnote
// markers. With forID, runs of hyphens are reduced as kramdown's
// typographic symbols reduce them (`--` and `---` vanish).
func appendNodeText(dst []byte, n ast.Node, src []byte, forID bool) []byte {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		switch c := c.(type) {
		case *ast.Text:
			v := c.Value(src)
			if forID {
				v = dropDashes(v)
			}
			dst = appendUnescaped(dst, v)
			if c.SoftLineBreak() || c.HardLineBreak() {
				dst = append(dst, ' ')
			}
		case *ast.String:
			if c.IsCode() || c.IsRaw() {
				dst = append(dst, c.Value...)
			} else {
				dst = appendUnescaped(dst, c.Value)
			}
		case *ast.CodeSpan:
			for t := c.FirstChild(); t != nil; t = t.NextSibling() {
				if t, ok := t.(*ast.Text); ok {
					dst = append(dst, t.Value(src)...)
				}
			}
		case *passthrough.PassthroughInline:
			dst = append(dst, mathText(c, src)...)
		case *ast.AutoLink:
			dst = append(dst, c.Label(src)...)
		case *ast.RawHTML, *ast.Image, *east.FootnoteLink, *east.TaskCheckBox:
		default:
			dst = appendNodeText(dst, c, src, forID)
		}
	}
	return dst
}

// appendUnescaped appends v with backslash escapes and character
// references resolved, as goldmark's HTML writer resolves them.
func appendUnescaped(dst, v []byte) []byte {
	if bytes.IndexByte(v, '\\') < 0 && bytes.IndexByte(v, '&') < 0 {
		return append(dst, v...)
	}
	v = util.UnescapePunctuations(v)
	v = util.ResolveNumericReferences(v)
	v = util.ResolveEntityNames(v)
	return append(dst, v...)
}

// dropDashes mimics kramdown's typographic symbols on a run of n hyphens:
// "---" is an em dash and "--" an en dash (both then dropped by the id
// rule), matched left to right, so a single hyphen survives only when
// n%3 == 1.
func dropDashes(v []byte) []byte {
	if !bytes.Contains(v, []byte("--")) {
		return v
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); {
		if v[i] != '-' {
			out = append(out, v[i])
			i++
			continue
		}
		j := i
		for j < len(v) && v[j] == '-' {
			j++
		}
		if (j-i)%3 == 1 {
			out = append(out, '-')
		}
		i = j
	}
	return out
}
