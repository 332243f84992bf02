package feed

import (
	"bytes"
	"strings"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// isIALLine reports whether a (left-trimmed) line holds only a kramdown
// attribute list or extension, such as "{: .lead }", "{:toc}", "{::options … /}".
func isIALLine(b []byte) bool {
	b = bytes.TrimRight(b, " \t")
	return len(b) >= 3 && b[0] == '{' && b[1] == ':' && b[len(b)-1] == '}' && bytes.IndexByte(b[:len(b)-1], '}') < 0
}

// isTOCMarker reports whether an attribute-list line is kramdown's {:toc}.
func isTOCMarker(b []byte) bool {
	b = bytes.TrimSpace(bytes.Trim(bytes.TrimSpace(b), "{:}"))
	return string(b) == "toc" || string(b) == ".toc" || string(b) == "#toc"
}

// blockIAL returns a kramdown block attribute list line reduced to what
// Herald keeps of it, ids and classes ("{: #intro .lead}"), or "" when it
// has neither (or is an extension such as {::options}).
func blockIAL(b []byte) string {
	id, classes := parseIAL(b)
	if id == "" && len(classes) == 0 {
		return ""
	}
	var s strings.Builder
	s.WriteString("{:")
	if id != "" {
		s.WriteString(" #" + id)
	}
	for _, c := range classes {
		s.WriteString(" ." + c)
	}
	s.WriteString("}")
	return s.String()
}

// parseIAL reads the id and classes of "{: #id .a .b key="v"}"; other
// attributes are dropped.
func parseIAL(b []byte) (id string, classes []string) {
	b = bytes.TrimSpace(b)
	if !bytes.HasPrefix(b, []byte("{:")) || bytes.HasPrefix(b, []byte("{::")) || !bytes.HasSuffix(b, []byte("}")) {
		return "", nil
	}
	for _, f := range strings.Fields(string(b[2 : len(b)-1])) {
		if strings.ContainsAny(f, `="'`) {
			continue
		}
		switch {
		case strings.HasPrefix(f, "#") && validAttrName(f[1:]):
			id = f[1:]
		case strings.HasPrefix(f, ".") && validAttrName(f[1:]):
			classes = append(classes, f[1:])
		}
	}
	return id, classes
}

// validAttrName accepts the characters kramdown allows in ids and classes.
func validAttrName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == ':' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127) {
			return false
		}
	}
	return true
}

// ialTransformer applies kramdown block attribute lists, which the Liquid
// pass leaves on lines of their own as "{: #id .class}": a list on the last
// line of a paragraph (written right after it) or on its first line (right
// before it) gives the paragraph its id and classes; a list standing alone
// applies to the block right before it, else to the block right after it,
// and is dropped either way.
type ialTransformer struct{}

// Transform implements parser.ASTTransformer.
func (ialTransformer) Transform(doc *ast.Document, reader text.Reader, _ parser.Context) {
	src := reader.Source()
	var paras []*ast.Paragraph
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if p, ok := n.(*ast.Paragraph); ok && entering {
			paras = append(paras, p)
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	for _, p := range paras {
		lines := p.Lines()
		if lines.Len() == 0 {
			continue
		}
		first, last := lines.At(0), lines.At(lines.Len()-1)
		switch {
		case lines.Len() == 1 && isIALText(first.Value(src)):
			target := p.PreviousSibling()
			if target == nil || p.HasBlankPreviousLines() {
				target = nil
				if next := p.NextSibling(); next != nil && !next.HasBlankPreviousLines() {
					target = next
				}
			}
			if target != nil {
				setIAL(target, first.Value(src))
			}
			p.Parent().RemoveChild(p.Parent(), p)
		case isIALText(last.Value(src)):
			setIAL(p, last.Value(src))
			for c := p.LastChild(); c != nil; {
				prev := c.PreviousSibling()
				if t, ok := c.(*ast.Text); ok && t.Segment.Start < last.Start {
					t.SetSoftLineBreak(false)
					break
				}
				p.RemoveChild(p, c)
				c = prev
			}
			lines.SetSliced(0, lines.Len()-1)
		case isIALText(first.Value(src)):
			setIAL(p, first.Value(src))
			for c := p.FirstChild(); c != nil; {
				next := c.NextSibling()
				if t, ok := c.(*ast.Text); ok && t.Segment.Start >= first.Stop {
					break
				}
				p.RemoveChild(p, c)
				c = next
			}
			lines.SetSliced(1, lines.Len())
		}
	}
}

// isIALText reports whether a paragraph line is an attribute list left by
// the Liquid pass.
func isIALText(b []byte) bool {
	b = bytes.TrimSpace(b)
	return bytes.HasPrefix(b, []byte("{:")) && !bytes.HasPrefix(b, []byte("{::")) && isIALLine(b)
}

// setIAL gives n the id and classes of the attribute list b (classes add
// to those it has).
func setIAL(n ast.Node, b []byte) {
	id, classes := parseIAL(b)
	if id != "" {
		n.SetAttributeString("id", []byte(id))
	}
	if len(classes) > 0 {
		cls := strings.Join(classes, " ")
		if old, ok := n.AttributeString("class"); ok {
			if ob, ok := old.([]byte); ok && len(ob) > 0 {
				cls = string(ob) + " " + cls
			}
		}
		n.SetAttributeString("class", []byte(cls))
	}
}
