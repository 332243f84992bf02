package feed

import (
	"errors"
	"html"
	"strings"
	"unicode"
	"unicode/utf8"

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
	return r.sectionMax(in, name, 0)
}

// sectionMax is section with the section's HTML bounded to about maxHTML
// bytes (0: no bound): see cutNodes.
func (r *renderer) sectionMax(in *renderInput, name string, maxHTML int) (*Section, error) {
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
		s, err := r.cutNodes(d, nodes, maxHTML)
		if err != nil {
			return nil, err
		}
		s.Heading = title
		return s, nil
	}
	if desc := strings.TrimSpace(in.Description); desc != "" {
		s := &Section{
			HTML:     "<p>" + html.EscapeString(desc) + "</p>",
			Text:     desc,
			Fallback: true,
		}
		if maxHTML > 0 && len(s.HTML) > maxHTML {
			s.HTML, s.Text = cutText(desc, maxHTML)
			s.Truncated = true
		}
		return s, nil
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
	s, err := r.cutNodes(ex.parsed, ex.nodes, maxHTML)
	if err != nil {
		return nil, err
	}
	s.Fallback = true
	return s, nil
}

// cutNodes renders nodes, blocks of d, as a Section's HTML and text. With
// maxHTML > 0 it keeps the whole blocks that fit in maxHTML bytes of HTML
// and sets Truncated when some did not; when not even the first block
// fits, the HTML is the start of its text, cut at a word, in a paragraph.
// The text part holds the same blocks.
func (r *renderer) cutNodes(d *parsed, nodes []ast.Node, maxHTML int) (*Section, error) {
	if maxHTML <= 0 {
		htm, err := r.renderNodes(d, nodes)
		if err != nil {
			return nil, err
		}
		t := newTextRenderer(d.src, d.res)
		t.blocks(nodes)
		return &Section{HTML: htm, Text: t.String()}, nil
	}
	var b strings.Builder
	kept := 0
	for _, n := range nodes {
		htm, err := r.renderNodes(d, []ast.Node{n})
		if err != nil {
			return nil, err
		}
		if b.Len()+len(htm) > maxHTML {
			break
		}
		b.WriteString(htm)
		kept++
	}
	s := &Section{HTML: b.String(), Truncated: kept < len(nodes)}
	if kept == 0 {
		s.HTML, s.Text = cutText(flatText(nodes[:1], d.src), maxHTML)
		return s, nil
	}
	t := newTextRenderer(d.src, d.res)
	t.blocks(nodes[:kept])
	s.Text = t.String()
	return s, nil
}

// cutText cuts the plain text s so that it fits, escaped in a paragraph,
// in maxHTML bytes: at the last space before the limit (or at a character
// boundary when there is none), with an ellipsis. It returns the HTML and
// the text.
func cutText(s string, maxHTML int) (htm, text string) {
	limit := max(maxHTML-len("<p>…</p>"), 0)
	for {
		cut := s
		if len(cut) > limit {
			cut = cut[:limit]
			for len(cut) > 0 && !utf8.RuneStart(s[len(cut)]) {
				cut = cut[:len(cut)-1]
			}
			if i := strings.LastIndexAny(cut, " \t\n"); i > len(cut)/2 {
				cut = cut[:i]
			}
		}
		cut = strings.TrimSpace(cut) + "…"
		htm = "<p>" + html.EscapeString(cut) + "</p>"
		if len(htm) <= maxHTML || limit == 0 {
			return htm, cut
		}
		limit -= (len(htm) - maxHTML) + 1 // escaping made it longer: cut more
		limit = max(limit, 0)
	}
}

// sectionMatch reports whether a heading's text names the section: a
// leading number ("5.", "2.1", "3)"), case and punctuation are ignored
// ("## Summary!" matches "Summary"), and when name is any spelling of
// TL;DR ("TLDR", "TL;DR", "TL DR") so is the heading.
func sectionMatch(heading, name string) bool {
	h := strings.TrimRight(strings.TrimSpace(stripNumber(heading)), ":")
	name = strings.TrimSpace(name)
	if isTLDR(name) {
		return isTLDR(h)
	}
	return sectionWords(h) != "" && sectionWords(h) == sectionWords(stripNumber(name))
}

// sectionWords is s lower-cased with only its letters and digits, words
// separated by one space.
func sectionWords(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), " ")
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
