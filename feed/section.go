package feed

import (
	"errors"
	"html"
	"strings"

	"github.com/yuin/goldmark/ast"
)

// ErrNoSection is returned (wrapped) by Loader.Section when a post has no
// matching heading, no description and no paragraph to fall back on.
var ErrNoSection = errors.New("feed: no section, description or excerpt")

// defaultSectionName is the heading Section looks for when given "".
const defaultSectionName = "TLDR"

// section extracts the part of the post under the heading called name: the
// blocks after the first matching heading (at any level) up to the next
// heading of the same or a higher level. Without such a heading (or when it
// is empty) it falls back to the description, then to the excerpt, with
// Fallback set.
func (r *renderer) section(in *renderInput, name string) (*Section, error) {
	if strings.TrimSpace(name) == "" {
		name = defaultSectionName
	}
	d, err := r.parse(in)
	if err != nil {
		return nil, err
	}
	defer d.release()
	for n := d.doc.FirstChild(); n != nil; n = nextBlock(n) {
		h, ok := n.(*ast.Heading)
		if !ok {
			continue
		}
		title := strings.Join(strings.Fields(string(appendNodeText(nil, h, d.src, false))), " ")
		if !sectionMatch(title, name) {
			continue
		}
		var nodes []ast.Node
		for s := h.NextSibling(); s != nil; s = s.NextSibling() {
			if sh, ok := s.(*ast.Heading); ok && sh.Level <= h.Level {
				break
			}
			nodes = append(nodes, s)
		}
		if len(nodes) == 0 {
			break
		}
		htm, err := r.renderNodes(d, nodes)
		if err != nil {
			return nil, err
		}
		t := newTextRenderer(d.src, d.res)
		t.blocks(nodes)
		return &Section{Heading: title, HTML: htm, Text: t.String()}, nil
	}
	if desc := strings.TrimSpace(in.Description); desc != "" {
		return &Section{
			HTML:     "<p>" + html.EscapeString(desc) + "</p>",
			Text:     desc,
			Fallback: true,
		}, nil
	}
	ex, err := r.excerpt(in, d)
	if err != nil {
		return nil, err
	}
	if ex == nil {
		return nil, ErrNoSection
	}
	if ex.parsed != d {
		defer ex.parsed.release()
	}
	t := newTextRenderer(ex.src, ex.res)
	t.blocks(ex.nodes)
	htm, err := r.renderNodes(ex.parsed, ex.nodes)
	if err != nil {
		return nil, err
	}
	return &Section{HTML: htm, Text: t.String(), Fallback: true}, nil
}

// sectionMatch reports whether a heading's text names the section: a
// leading number ("5.", "2.1", "3)") is ignored, case too, and when name is
// any spelling of TL;DR ("TLDR", "TL;DR", "TL DR") so is the heading.
func sectionMatch(heading, name string) bool {
	h := strings.TrimRight(strings.TrimSpace(stripNumber(heading)), ":")
	name = strings.TrimSpace(name)
	if isTLDR(name) {
		return isTLDR(h)
	}
	return strings.EqualFold(strings.TrimSpace(h), name)
}

// stripNumber removes a leading section number such as "5. ", "2.1. ",
// "2.1 " or "3) ".
func stripNumber(s string) string {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' || s[i] == ')') {
		i++
	}
	if i == 0 || s[0] < '0' || s[0] > '9' || i == len(s) || (s[i] != ' ' && s[i] != '\t') {
		return s
	}
	return strings.TrimSpace(s[i:])
}

// isTLDR reports whether s spells TL;DR: "tldr", "tl;dr", "tl dr", "TL-DR"…
func isTLDR(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	if !strings.HasPrefix(s, "tl") {
		return false
	}
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', ';', ':', '-', '.', ',':
			return -1
		}
		return r
	}, s)
	return s == "tldr"
}
