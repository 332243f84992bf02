package feed

import (
	"strings"
)

// output handles "{{ … }}" at pos.
func (p *liquidParser) output(pos int) int {
	src := p.src
	c := p.index(pos+2, "}}", false) - (pos + 2)
	if c < 0 {
		p.warn(pos, "unclosed Liquid output \"{{\" left as text")
		p.out = append(p.out, "{{"...)
		return pos + 2
	}
	end := pos + 2 + c + 2
	expr := strings.TrimSpace(strings.Trim(strings.TrimSpace(string(src[pos+2:pos+2+c])), "-"))
	v, ok := p.eval(pos, expr)
	if !ok {
		p.warn(pos, "unsupported Liquid output {{ %s }} removed", expr)
		return end
	}
	p.out = append(p.out, v...)
	return end
}

// eval evaluates the small subset of Liquid expressions posts use: site
// variables and string literals through the relative_url, absolute_url,
// append and prepend filters.
func (p *liquidParser) eval(pos int, expr string) (string, bool) {
	parts := strings.Split(expr, "|")
	v, ok := p.value(strings.TrimSpace(parts[0]))
	if !ok {
		return "", false
	}
	for _, f := range parts[1:] {
		name, arg, _ := strings.Cut(strings.TrimSpace(f), ":")
		name = strings.TrimSpace(name)
		switch name {
		case "relative_url":
			v = relativeURL(p.site.BaseURL, v)
		case "absolute_url":
			if !hasScheme(v) && !strings.HasPrefix(v, "//") {
				v = p.site.URL + relativeURL(p.site.BaseURL, v)
			}
		case "append", "prepend":
			a, ok := p.value(strings.TrimSpace(arg))
			if !ok {
				return "", false
			}
			if name == "append" {
				v += a
			} else {
				v = a + v
			}
		default:
			p.warn(pos, "unsupported Liquid filter %q ignored in {{ %s }}", name, expr)
		}
	}
	return v, true
}

func (p *liquidParser) value(s string) (string, bool) {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1], true
	}
	switch s {
	case "site.url":
		return p.site.URL, true
	case "site.baseurl":
		return p.site.BaseURL, true
	case "site.title":
		return p.site.Title, true
	case "site.description":
		return p.site.Description, true
	case "site.author":
		return p.site.Author, true
	case "site.email":
		return p.site.Email, true
	}
	return "", false
}
