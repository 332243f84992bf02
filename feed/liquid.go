package feed

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// liquid resolves the Liquid tags Jekyll posts use, on the Markdown source,
// before goldmark sees it; the result is appended to dst. It works line by
// line so that it can leave code alone: fenced code blocks, indented code
// blocks and inline code spans are copied verbatim (only `{% raw %}` and
// `{% endraw %}` markers are dropped there, since their one purpose in
// Jekyll is to show Liquid inside code). Outside code:
//
//   - {% include figure.html path=… caption=… %} (any attribute order,
//     spaces around "=", quoted or bare values, over several lines) becomes
//     a one-line <figure> with an absolute <img> src, which goldmark keeps
//     as raw HTML (an HTML block of its own, or part of the surrounding
//     <div> block);
//   - {{ site.url }}, {{ site.baseurl }} (and title, description, author,
//     email), string literals, and the relative_url, absolute_url, append
//     and prepend filters are substituted;
//   - {% post_url NAME %} and {% link PATH %} become absolute URLs through
//     in.Resolve; an unknown post is warned about and becomes "#" (which
//     the URL pass turns into the post's own URL); a {% link %} to a path
//     that is not a post gets the site URL Resolve offers, with a warning;
//   - {% raw %}…{% endraw %} is copied literally, {% comment %}…
//     {% endcomment %} dropped, {% highlight LANG %}…{% endhighlight %}
//     turned into a fenced code block;
//   - kramdown attribute lists ({: .lead }, {:toc}) are removed; a line
//     holding only one is removed whole, and {:toc} also removes the list
//     item line just before it (kramdown's "* TOC" placeholder);
//   - <style> and <script> elements are removed (whole lines when they
//     fill them);
//   - a block-level HTML element (<div>, <figure>, <table>…) starting a line
//     loses the blank lines inside it, up to its matching end tag, so that
//     goldmark keeps it one raw HTML block as kramdown does (CommonMark
//     would end the block at the first blank line and read the rest,
//     indented, as a code block); not when it holds <pre> or <textarea>, or
//     asks for markdown="1";
//   - any other tag or output is removed with a warning naming the file
//     line (in.Line plus the offset in src).
func (r *renderer) liquid(dst, src []byte, in *renderInput) []byte {
	out, _ := r.liquidTags(dst, src, in)
	return out
}

// liquidTags is liquid that also returns the offsets in its output of the
// "<" of every possible raw HTML tag outside code, for rewriteTagURLs.
func (r *renderer) liquidTags(dst, src []byte, in *renderInput) ([]byte, []int) {
	p := liquidParser{site: r.site, in: in, src: src, out: dst}
	p.run()
	return p.out, p.tags
}

type liquidParser struct {
	site *Site
	in   *renderInput
	src  []byte
	out  []byte

	// Memos keeping pathological input linear: the offset from which a
	// closing string is known to be absent, and the matching end tags of
	// block elements by name (start offset → end offset).
	wpos, wline int   // the last warning's offset and line in src, to count lines once
	tags        []int // offsets in out of "<" + letter outside code: raw HTML tags, maybe
	absent      map[string]int
	skips       map[int]int // offset of a kept branch's end tag → where to go on
	blockEnds   map[string]map[int]int
}

// index returns the offset of sub in src at or after pos (ASCII case
// ignored when fold), or -1, remembering failures.
func (p *liquidParser) index(pos int, sub string, fold bool) int {
	if a, ok := p.absent[sub]; ok && pos >= a {
		return -1
	}
	var i int
	if fold {
		i = indexFold(p.src[pos:], sub)
	} else {
		i = bytes.Index(p.src[pos:], []byte(sub))
	}
	if i < 0 {
		if p.absent == nil {
			p.absent = make(map[string]int)
		}
		if a, ok := p.absent[sub]; !ok || pos < a {
			p.absent[sub] = pos
		}
		return -1
	}
	return pos + i
}

// warn reports msg at the file line of src offset pos.
func (p *liquidParser) warn(pos int, format string, args ...any) {
	if p.in.Warn == nil {
		return
	}
	if pos < p.wpos {
		p.wpos, p.wline = 0, 0
	}
	p.wline += bytes.Count(p.src[p.wpos:pos], []byte{'\n'})
	p.wpos = pos
	p.in.Warn(max(p.in.Line, 1)+p.wline, fmt.Sprintf(format, args...))
}

func (p *liquidParser) run() {
	src := p.src
	var (
		fence       byte // '`' or '~' while inside a fenced code block
		fenceLen    int
		prevBlank   = true
		prevHTML    bool // the previous line ended a raw HTML block
		prevCode    bool
		inList      bool
		listContent int
		prevItemOut = -1 // offset in out of the previous line when it was a list item
	)
	for pos := 0; pos < len(src); {
		end := bytes.IndexByte(src[pos:], '\n')
		next := len(src)
		if end < 0 {
			end = len(src)
		} else {
			end += pos
			next = end + 1
		}
		line := src[pos:end]
		indent, off := indentOf(line)
		rest := line[off:]

		if fence != 0 {
			if c, n := fenceRun(rest); c == fence && n >= fenceLen && isBlank(rest[n:]) {
				fence = 0
			}
			p.code(src[pos:next])
			pos = next
			continue
		}
		if isBlank(rest) {
			p.out = append(p.out, src[pos:next]...)
			prevBlank, prevHTML, prevItemOut = true, false, -1
			pos = next
			continue
		}
		codeIndent := 4
		if inList {
			codeIndent = listContent + 4
		}
		if indent >= codeIndent && (prevBlank || prevCode) {
			prevCode, prevBlank = true, false
			p.code(src[pos:next])
			pos = next
			continue
		}
		prevCode = false
		if c, n := fenceRun(rest); n >= 3 && (c == '~' || bytes.IndexByte(rest[n:], '`') < 0) {
			fence, fenceLen = c, n
			prevBlank, prevItemOut = false, -1
			p.code(src[pos:next])
			pos = next
			continue
		}
		if bytes.HasPrefix(rest, []byte("{::nomarkdown")) {
			pos = p.nomarkdown(pos + off)
			prevBlank, prevHTML, prevItemOut = true, false, -1
			continue
		}
		if isIALLine(rest) {
			switch {
			case isTOCMarker(rest):
				if prevItemOut >= 0 {
					p.out = p.out[:prevItemOut]
				}
			case !prevHTML && blockIAL(rest) != "":
				// Kept for the ialTransformer, which applies it to the
				// block before or after it.
				p.out = append(p.out, blockIAL(rest)...)
				p.out = append(p.out, '\n')
			}
			prevItemOut = -1
			pos = next
			continue
		}
		if indent <= 3 && len(rest) > 2 && rest[0] == '<' {
			if e := p.htmlBlockEnd(pos + off); e > 0 {
				// A block element written as raw HTML is raw HTML up to its
				// end tag for kramdown (parse_block_html is off in Jekyll),
				// blank lines included; for CommonMark a blank line ends the
				// HTML block and what follows becomes Markdown (an indented
				// line a code block). Dropping the blank lines inside the
				// element keeps it one HTML block, as kramdown sees it.
				outStart, start := len(p.out), pos
				pos = p.inline(pos, lineEndAt(src, e))
				if !containsFold(src[start:e], "<pre") && !containsFold(src[start:e], "<textarea") {
					p.out = dropBlankLines(p.out, outStart)
				}
				if !inList && pos < len(src) && !isBlankLineAt(src, pos) {
					p.out = append(p.out, '\n') // end the HTML block, as kramdown does
				}
				prevBlank, prevHTML, prevItemOut = false, true, -1
				continue
			}
		}
		prevHTML = false
		item, content := listItem(line)
		if item {
			inList, listContent = true, content
		} else if inList && prevBlank && indent < listContent {
			inList = false
		}
		prevBlank = false
		lineOut := len(p.out)
		pos = p.inline(pos, end)
		prevItemOut = -1
		if item {
			prevItemOut = lineOut
		}
	}
}

// inline processes src from pos to the end of its line (or further, when a
// tag or code span starting on the line spans several lines) and returns
// the offset of the next line.
func (p *liquidParser) inline(pos, end int) int {
	src := p.src
	for pos < end {
		i := indexSpecial(src[pos:end])
		if i < 0 {
			break
		}
		p.out = append(p.out, src[pos:pos+i]...)
		pos += i
		switch src[pos] {
		case '`':
			pos = p.codeSpan(pos)
		case '<':
			pos = p.dropElement(pos)
		default:
			pos = p.brace(pos)
		}
		if pos > end {
			if src[pos-1] == '\n' {
				return pos // the construct ended a line: the caller classifies the next one
			}
			end = lineEndAt(src, pos)
		}
	}
	next := end
	if next < len(src) {
		next++ // the newline
	}
	if pos < next {
		p.out = append(p.out, src[pos:next]...)
	}
	return next
}

// indexFold is bytes.Index ignoring ASCII case; sub must be lower case.
func indexFold(b []byte, sub string) int {
	first := sub[0]
	letter := isASCIILetter(first)
	for i := 0; i+len(sub) <= len(b); i++ {
		if !letter {
			j := bytes.IndexByte(b[i:], first)
			if j < 0 {
				return -1
			}
			i += j
			if i+len(sub) > len(b) {
				return -1
			}
		} else if b[i]|0x20 != first {
			continue
		}
		if strings.EqualFold(string(b[i:i+len(sub)]), sub) {
			return i
		}
	}
	return -1
}

func containsFold(b []byte, sub string) bool { return indexFold(b, sub) >= 0 }

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func lineStartAt(src []byte, pos int) int { return bytes.LastIndexByte(src[:pos], '\n') + 1 }

// liquidSpecial marks the bytes the inline scan stops at.
var liquidSpecial = [256]bool{'`': true, '{': true, '<': true}

func indexSpecial(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if hasByte(x, '`') || hasByte(x, '{') || hasByte(x, '<') {
			break
		}
	}
	for ; i < len(b); i++ {
		if liquidSpecial[b[i]] {
			return i
		}
	}
	return -1
}

// codeSpan copies an inline code span starting at pos verbatim and returns
// the offset after it; an unmatched backtick run is copied as text.
func (p *liquidParser) codeSpan(pos int) int {
	src := p.src
	n := 0
	for pos+n < len(src) && src[pos+n] == '`' {
		n++
	}
	for i := pos + n; i < len(src); {
		c := src[i]
		if c == '\n' && isBlankLineAt(src, i+1) {
			break // a code span does not cross a paragraph end
		}
		if c != '`' {
			i++
			continue
		}
		j := i
		for j < len(src) && src[j] == '`' {
			j++
		}
		if j-i == n {
			p.code(src[pos:j])
			return j
		}
		i = j
	}
	p.out = append(p.out, src[pos:pos+n]...)
	return pos + n
}

// brace handles "{" at pos: a Liquid tag, a Liquid output or a kramdown
// attribute list; anything else is copied.
func (p *liquidParser) brace(pos int) int {
	src := p.src
	if pos+1 >= len(src) {
		p.out = append(p.out, '{')
		return pos + 1
	}
	switch src[pos+1] {
	case '%':
		return p.tag(pos)
	case '{':
		return p.output(pos)
	case ':':
		// An inline attribute list such as ![x](a.png){: width="50%"}.
		if j := bytes.IndexByte(src[pos:lineEndAt(src, pos)], '}'); j > 0 {
			return pos + j + 1
		}
	}
	p.out = append(p.out, '{')
	return pos + 1
}

// code copies code verbatim but for {% raw %} and {% endraw %} markers.
func (p *liquidParser) code(b []byte) {
	for {
		i := bytes.Index(b, []byte("{%"))
		if i < 0 {
			break
		}
		name, _, end, ok := tagAt(b, i)
		if !ok {
			break
		}
		if name == "raw" || name == "endraw" {
			p.out = append(p.out, b[:i]...)
		} else {
			p.out = append(p.out, b[:end]...)
		}
		b = b[end:]
	}
	p.out = append(p.out, b...)
}

// indentOf returns the indentation of line in columns (tabs to the next
// multiple of 4) and the offset of its first non-blank byte.
func indentOf(line []byte) (cols, off int) {
	for off < len(line) {
		switch line[off] {
		case ' ':
			cols++
		case '\t':
			cols += 4 - cols%4
		default:
			return cols, off
		}
		off++
	}
	return cols, off
}

// fenceRun returns the fence character and the length of the run of "`" or
// "~" that b starts with.
func fenceRun(b []byte) (byte, int) {
	if len(b) == 0 || (b[0] != '`' && b[0] != '~') {
		return 0, 0
	}
	n := 1
	for n < len(b) && b[n] == b[0] {
		n++
	}
	return b[0], n
}

// listItem reports whether line starts a list item and the column of its
// content.
func listItem(line []byte) (bool, int) {
	ind, off := indentOf(line)
	b := line[off:]
	n := 0
	switch {
	case len(b) > 0 && (b[0] == '-' || b[0] == '*' || b[0] == '+'):
		n = 1
	default:
		for n < len(b) && n < 9 && b[n] >= '0' && b[n] <= '9' {
			n++
		}
		if n == 0 || n >= len(b) || (b[n] != '.' && b[n] != ')') {
			return false, 0
		}
		n++
	}
	if n < len(b) && b[n] != ' ' && b[n] != '\t' {
		return false, 0
	}
	sp := 0
	for n+sp < len(b) && b[n+sp] == ' ' && sp < 4 {
		sp++
	}
	if sp == 0 || n+sp >= len(b) {
		sp = 1
	}
	return true, ind + n + sp
}

func lineEndAt(src []byte, pos int) int {
	if i := bytes.IndexByte(src[pos:], '\n'); i >= 0 {
		return pos + i
	}
	return len(src)
}

// isBlankLineAt reports whether the line starting at pos is blank (or the
// end of the source).
func isBlankLineAt(src []byte, pos int) bool {
	return isBlank(src[pos:lineEndAt(src, pos)])
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isSpaceRune(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// hasScheme reports whether ref starts with a URL scheme ("https:",
// "mailto:", "data:"…).
func hasScheme(ref string) bool {
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case c == ':':
			return i > 0
		default:
			return false
		}
	}
	return false
}
