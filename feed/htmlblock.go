package feed

import (
	"bytes"
	"strings"
)

// dropElement drops a <style> or <script> element starting at pos (feeds
// and mail must not carry them, and a <style> with blank lines inside would
// otherwise turn into paragraphs and code blocks); when the element fills
// whole lines they go too. Any other "<" is copied.
func (p *liquidParser) dropElement(pos int) int {
	src := p.src
	var name string
	switch {
	case startsTag(src[pos:], "style"):
		name = "style"
	case startsTag(src[pos:], "script"):
		name = "script"
	default:
		if pos+1 < len(src) && isASCIILetter(src[pos+1]) {
			p.tags = append(p.tags, len(p.out))
		}
		p.out = append(p.out, '<')
		return pos + 1
	}
	i := p.index(pos, "</"+name, true) - pos
	if i < 0 {
		k := bytes.IndexByte(src[pos:], '>')
		if k < 0 {
			p.out = append(p.out, '<')
			return pos + 1
		}
		p.warn(pos, "<%s> without </%s>: the start tag is removed", name, name)
		return pos + k + 1
	}
	j := bytes.IndexByte(src[pos+i:], '>')
	if j < 0 {
		return len(src)
	}
	end := pos + i + j + 1
	le := lineEndAt(src, end)
	if isBlank(src[end:le]) && isBlank(src[lineStartAt(src, pos):pos]) {
		p.out = bytes.TrimRight(p.out, " \t")
		if le < len(src) {
			le++
		}
		return le
	}
	return end
}

// blockTags are the elements that start a CommonMark HTML block of type 6
// (and that kramdown reads as block HTML), plus video.
var blockTags = map[string]bool{
	"address": true, "article": true, "aside": true, "base": true, "basefont": true,
	"blockquote": true, "body": true, "caption": true, "center": true, "col": true,
	"colgroup": true, "dd": true, "details": true, "dialog": true, "dir": true,
	"div": true, "dl": true, "dt": true, "fieldset": true, "figcaption": true,
	"figure": true, "footer": true, "form": true, "frame": true, "frameset": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
	"head": true, "header": true, "hr": true, "html": true, "iframe": true,
	"legend": true, "li": true, "link": true, "main": true, "menu": true,
	"menuitem": true, "nav": true, "noframes": true, "ol": true, "optgroup": true,
	"option": true, "p": true, "param": true, "search": true, "section": true,
	"summary": true, "table": true, "tbody": true, "td": true, "tfoot": true,
	"th": true, "thead": true, "title": true, "tr": true, "track": true, "ul": true,
	"video": true,
}

// htmlBlockEnd returns the offset just after the end tag matching the
// block element that starts at pos, or -1 when src[pos:] does not start a
// block element, the element has no end tag, or it asks kramdown to parse
// its content as Markdown (markdown="1").
func (p *liquidParser) htmlBlockEnd(pos int) int {
	src := p.src
	n := 1
	for pos+n < len(src) && (isASCIILetter(src[pos+n]) || (n > 1 && src[pos+n] >= '0' && src[pos+n] <= '9')) {
		n++
	}
	name := strings.ToLower(string(src[pos+1 : pos+n]))
	if !blockTags[name] || !startsTag(src[pos:], name) {
		return -1
	}
	gt := bytes.IndexByte(src[pos:], '>')
	if gt < 0 || containsFold(src[pos:pos+gt], "markdown=") {
		return -1
	}
	ends, ok := p.blockEnds[name]
	if !ok {
		ends = matchElements(src, name)
		if p.blockEnds == nil {
			p.blockEnds = make(map[string]map[int]int)
		}
		p.blockEnds[name] = ends
	}
	if e, ok := ends[pos]; ok {
		return e
	}
	return -1
}

// matchElements pairs every start tag of the element name in src with its
// end tag, in one pass: start offset → offset after the end tag's ">".
// Start tags without an end tag are left out.
func matchElements(src []byte, name string) map[int]int {
	ends := make(map[int]int)
	var open []int
	for i := 0; i < len(src); i++ {
		j := bytes.IndexByte(src[i:], '<')
		if j < 0 {
			break
		}
		i += j
		switch {
		case startsTag(src[i:], name):
			open = append(open, i)
		case len(open) > 0 && i+1 < len(src) && src[i+1] == '/' && startsTag(src[i+1:], name):
			k := bytes.IndexByte(src[i:], '>')
			if k < 0 {
				return ends
			}
			ends[open[len(open)-1]] = i + k + 1
			open = open[:len(open)-1]
		}
	}
	return ends
}

// dropBlankLines removes the blank lines of out[from:].
func dropBlankLines(out []byte, from int) []byte {
	w := from
	for r := from; r < len(out); {
		e := bytes.IndexByte(out[r:], '\n')
		if e < 0 {
			e = len(out)
		} else {
			e += r + 1
		}
		if !isBlank(bytes.TrimRight(out[r:e], "\n")) {
			w += copy(out[w:], out[r:e])
		}
		r = e
	}
	return out[:w]
}

// nomarkdown copies the content of kramdown's {::nomarkdown}…{:/nomarkdown}
// (or {:/}) block starting at pos as raw HTML: its blank lines dropped so
// that it stays one HTML block, with a blank line before and after. It
// returns the offset after the closing marker's line. Without a closing
// marker the opening one is dropped.
func (p *liquidParser) nomarkdown(pos int) int {
	src := p.src
	open := lineEndAt(src, pos)
	body := bytes.IndexByte(src[pos:open], '}')
	start := pos + body + 1
	end, after := -1, -1
	for _, closer := range []string{"{:/nomarkdown}", "{:/}"} {
		if i := bytes.Index(src[start:], []byte(closer)); i >= 0 && (end < 0 || start+i < end) {
			end, after = start+i, start+i+len(closer)
		}
	}
	if end < 0 {
		p.warn(pos, "{::nomarkdown} without {:/nomarkdown} removed")
		if open < len(src) {
			open++
		}
		return open
	}
	if len(p.out) > 0 && p.out[len(p.out)-1] != '\n' {
		p.out = append(p.out, '\n')
	}
	p.out = append(p.out, '\n')
	outStart := len(p.out)
	p.out = append(p.out, bytes.TrimSpace(src[start:end])...)
	p.out = dropBlankLines(p.out, outStart)
	p.out = append(p.out, "\n\n"...)
	le := lineEndAt(src, after)
	if !isBlank(src[after:le]) {
		return after
	}
	if le < len(src) {
		le++
	}
	return le
}
