package feed

import (
	"bytes"
	"strings"
)

// tagAt parses the Liquid tag starting at pos ("{%"): its name, arguments
// and end offset; ok is false when it is not closed.
func tagAt(src []byte, pos int) (name, args string, end int, ok bool) {
	c := bytes.Index(src[pos+2:], []byte("%}"))
	if c < 0 {
		return "", "", 0, false
	}
	body := src[pos+2 : pos+2+c]
	end = pos + 2 + c + 2
	body = bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(bytes.TrimPrefix(body, []byte("-"))), []byte("-")))
	i := bytes.IndexFunc(body, isSpaceRune)
	if i < 0 {
		return string(body), "", end, true
	}
	return string(body[:i]), string(bytes.TrimSpace(body[i:])), end, true
}

// findEndTag finds the tag {% name %} at or after pos and returns its start
// and end offsets, or -1.
func findEndTag(src []byte, pos int, name string) (start, end int) {
	for {
		i := bytes.Index(src[pos:], []byte("{%"))
		if i < 0 {
			return -1, -1
		}
		start = pos + i
		n, _, e, ok := tagAt(src, start)
		if !ok {
			return -1, -1
		}
		if n == name {
			return start, e
		}
		pos = start + 2
	}
}

func (p *liquidParser) tag(pos int) int {
	src := p.src
	name, args, end, ok := "", "", 0, p.index(pos+2, "%}", false) >= 0
	if ok {
		name, args, end, ok = tagAt(src, pos)
	}
	if !ok {
		p.warn(pos, "unclosed Liquid tag \"{%%\" left as text")
		p.out = append(p.out, "{%"...)
		return pos + 2
	}
	switch name {
	case "raw":
		s, e := findEndTag(src, end, "endraw")
		if s < 0 {
			p.warn(pos, "{%% raw %%} without {%% endraw %%}: the rest of the post is kept literally")
			p.out = append(p.out, src[end:]...)
			return len(src)
		}
		p.out = append(p.out, src[end:s]...)
		return e
	case "comment":
		_, e := findEndTag(src, end, "endcomment")
		if e < 0 {
			p.warn(pos, "{%% comment %%} without {%% endcomment %%}: the rest of the post is dropped")
			return len(src)
		}
		return e
	case "highlight":
		return p.highlight(pos, args, end)
	case "include":
		p.include(pos, args)
	case "post_url", "link":
		target := strings.TrimSpace(args)
		u, ok := "", false
		if p.in.Resolve != nil && target != "" {
			u, ok = p.in.Resolve(name, target)
		}
		switch {
		case !ok && u != "" && name == "link":
			p.warn(pos, "{%% link %s %%}: not a post; linked as a site path", target)
		case !ok:
			p.warn(pos, "{%% %s %s %%}: no such post or page; the link points to the post itself", name, target)
			u = "#"
		}
		p.out = append(p.out, u...)
	case "endraw", "endcomment", "endhighlight":
		p.warn(pos, "{%% %s %%} without its opening tag removed", name)
	default:
		p.warn(pos, "unsupported Liquid tag {%% %s %%} removed", name)
	}
	return end
}

// highlight turns {% highlight LANG [linenos] %}…{% endhighlight %} into a
// fenced code block.
func (p *liquidParser) highlight(pos int, args string, end int) int {
	src := p.src
	s, e := findEndTag(src, end, "endhighlight")
	if s < 0 {
		p.warn(pos, "{%% highlight %%} without {%% endhighlight %%} removed")
		return end
	}
	body := bytes.TrimRight(bytes.TrimLeft(src[end:s], "\n"), " \t\n")
	lang, _, _ := strings.Cut(args, " ")
	fence := 3
	for run, i := 0, 0; i < len(body); i++ {
		if body[i] == '`' {
			run++
			fence = max(fence, run+1)
		} else {
			run = 0
		}
	}
	if len(p.out) > 0 && p.out[len(p.out)-1] != '\n' {
		p.out = append(p.out, '\n')
	}
	p.out = append(p.out, strings.Repeat("`", fence)...)
	p.out = append(p.out, lang...)
	p.out = append(p.out, '\n')
	p.code(body)
	p.out = append(p.out, '\n')
	p.out = append(p.out, strings.Repeat("`", fence)...)
	p.out = append(p.out, '\n')
	return e
}
