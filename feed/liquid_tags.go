package feed

import (
	"bytes"
	"html"
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
	if to, ok := p.skips[pos]; ok { // the end of a kept branch: skip the others
		delete(p.skips, pos)
		return to
	}
	switch name {
	case "if", "unless":
		return p.conditional(pos, name, args, end)
	case "endif", "endunless", "else", "elsif":
		// the end of a kept else branch, or a stray one: nothing to write
	case "cite":
		p.cite(args)
	case "details":
		label := strings.Trim(strings.TrimSpace(args), `"'`)
		p.blockHTML("<details><summary>" + html.EscapeString(label) + "</summary>")
	case "enddetails":
		p.blockHTML("</details>")
	case "twitter":
		if u, _, _ := strings.Cut(strings.TrimSpace(args), " "); hasScheme(u) {
			p.out = append(p.out, '<')
			p.out = append(p.out, strings.Trim(u, `"'`)...)
			p.out = append(p.out, '>')
		} else {
			p.warn(pos, "{%% twitter %%} without a URL removed")
		}
	case "tabs", "endtabs", "endtab":
		// tabs become their contents one after another
	case "tab":
		fields := strings.Fields(args)
		if len(fields) > 1 {
			p.blockHTML("<p><strong>" + html.EscapeString(strings.Trim(strings.Join(fields[1:], " "), `"'`)) + "</strong></p>")
		}
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

// blockHTML writes an HTML block on lines of its own.
func (p *liquidParser) blockHTML(s string) {
	if len(p.out) > 0 && p.out[len(p.out)-1] != '\n' {
		p.out = append(p.out, '\n')
	}
	p.out = append(p.out, '\n')
	p.out = append(p.out, s...)
	p.out = append(p.out, "\n\n"...)
}

// cite turns {% cite key1 key2 %} (jekyll-scholar) into "[key1; key2]";
// options such as --file are dropped.
func (p *liquidParser) cite(args string) {
	var keys []string
	fields := strings.Fields(args)
	for i := 0; i < len(fields); i++ {
		if strings.HasPrefix(fields[i], "--") {
			i++ // the option's value
			continue
		}
		keys = append(keys, fields[i])
	}
	if len(keys) == 0 {
		return
	}
	p.out = append(p.out, '[')
	p.out = append(p.out, html.EscapeString(strings.Join(keys, "; "))...)
	p.out = append(p.out, ']')
}

// conditional handles {% if COND %}…{% elsif %}…{% else %}…{% endif %}
// (and unless): a condition on a literal or a site variable is evaluated
// and its branch kept; any other condition cannot be evaluated here, and
// the else branch is kept (nothing without one), never both. It returns
// where to go on: the start of the kept branch, whose end is recorded in
// p.skips to jump past the end tag.
func (p *liquidParser) conditional(pos int, name, args string, end int) int {
	closer := "end" + name
	var branches []int // offsets of the {% elsif %} and {% else %} tags at depth 0
	elseAt, elseEnd := -1, -1
	depth := 0
	for i := end; ; {
		j := bytes.Index(p.src[i:], []byte("{%"))
		if j < 0 {
			p.warn(pos, "{%% %s %%} without {%% %s %%}: the tag is removed", name, closer)
			return end
		}
		s := i + j
		n, _, e, ok := tagAt(p.src, s)
		if !ok {
			i = s + 2
			continue
		}
		switch {
		case n == "if" || n == "unless":
			depth++
		case (n == "endif" || n == "endunless") && depth > 0:
			depth--
		case n == closer && depth == 0:
			if p.skips == nil {
				p.skips = map[int]int{}
			}
			cond, known := p.condition(args)
			if name == "unless" {
				cond = !cond
			}
			var from, to int // the kept branch
			switch {
			case known && cond:
				from = end
				to = s
				if len(branches) > 0 {
					to = branches[0]
				}
			case elseAt < 0:
				return e // no branch is kept
			default:
				from, to = elseEnd, s
			}
			p.skips[to] = e
			return from
		case (n == "else" || n == "elsif") && depth == 0:
			branches = append(branches, s)
			if n == "else" {
				elseAt, elseEnd = s, e
			}
		}
		i = e
	}
}

// condition evaluates a Liquid condition when it is a literal (true,
// false, nil, a string or number) or a site variable Herald knows, alone
// or compared with == or != to a literal; known is false otherwise.
func (p *liquidParser) condition(expr string) (value, known bool) {
	expr = strings.TrimSpace(expr)
	for _, op := range []string{"==", "!="} {
		if l, r, ok := strings.Cut(expr, op); ok {
			a, ok1 := p.operand(strings.TrimSpace(l))
			b, ok2 := p.operand(strings.TrimSpace(r))
			if !ok1 || !ok2 {
				return false, false
			}
			return (a == b) == (op == "=="), true
		}
	}
	if strings.ContainsAny(expr, "<> ") {
		return false, false
	}
	switch expr {
	case "true":
		return true, true
	case "false", "nil", "null":
		return false, true
	}
	v, ok := p.operand(expr)
	return ok && v != "", ok // Liquid: "" is truthy, but an unset site key is nil
}

func (p *liquidParser) operand(s string) (string, bool) {
	if v, ok := p.value(s); ok {
		return v, true
	}
	if s != "" && strings.Trim(s, "0123456789.-") == "" {
		return s, true
	}
	return "", false
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
