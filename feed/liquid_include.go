package feed

import (
	"html"
	"strings"
)

// include handles {% include FILE key=value … %}: figure.html becomes a
// <figure>; every other include is removed with a warning.
func (p *liquidParser) include(pos int, args string) {
	file, attrs := parseIncludeArgs(args)
	if file != "figure.html" {
		p.warn(pos, "unsupported {%% include %s %%} removed", file)
		return
	}
	src := attrs["path"]
	if src != "" {
		src = p.siteAbs(src)
	} else {
		src = attrs["url"]
	}
	if src == "" {
		p.warn(pos, "{%% include figure.html %%} without path or url removed")
		return
	}
	caption := attrs["caption"]
	alt := attrs["alt"]
	if alt == "" {
		alt = caption
	}
	o := append(p.out, `<figure><img src="`...)
	o = append(o, html.EscapeString(src)...)
	o = append(o, `" alt="`...)
	o = append(o, html.EscapeString(alt)...)
	o = append(o, '"')
	for _, k := range [...]string{"class", "width", "height"} {
		if v := attrs[k]; v != "" {
			o = append(o, ' ')
			o = append(o, k...)
			o = append(o, `="`...)
			o = append(o, html.EscapeString(v)...)
			o = append(o, '"')
		}
	}
	o = append(o, '>')
	if caption != "" {
		o = append(o, "<figcaption>"...)
		o = append(o, html.EscapeString(caption)...)
		o = append(o, "</figcaption>"...)
	}
	p.out = append(o, "</figure>"...)
}

// siteAbs makes a site path absolute the way Jekyll's relative_url filter
// and al-folio's figure.html do: site.url + site.baseurl + "/" + path.
// URLs with a scheme (or scheme-relative) are kept.
func (p *liquidParser) siteAbs(path string) string {
	if hasScheme(path) || strings.HasPrefix(path, "//") {
		return path
	}
	return p.site.URL + relativeURL(p.site.BaseURL, path)
}

// relativeURL is Jekyll's relative_url filter: baseurl joined with path.
func relativeURL(baseurl, path string) string {
	if hasScheme(path) || strings.HasPrefix(path, "//") {
		return path
	}
	return strings.TrimRight(baseurl, "/") + "/" + strings.TrimLeft(path, "/")
}

// parseIncludeArgs parses "figure.html path=\"a\" caption = 'b' zoomable=true".
func parseIncludeArgs(s string) (file string, attrs map[string]string) {
	attrs = make(map[string]string)
	i := 0
	skip := func() {
		for i < len(s) && isSpaceByte(s[i]) {
			i++
		}
	}
	for {
		skip()
		if i >= len(s) {
			return file, attrs
		}
		st := i
		for i < len(s) && !isSpaceByte(s[i]) && s[i] != '=' {
			i++
		}
		key := s[st:i]
		skip()
		if i >= len(s) || s[i] != '=' {
			if file == "" {
				file = key
			}
			continue
		}
		i++ // '='
		skip()
		var val string
		if i < len(s) && (s[i] == '"' || s[i] == '\'') {
			q := s[i]
			j := strings.IndexByte(s[i+1:], q)
			if j < 0 {
				val, i = s[i+1:], len(s)
			} else {
				val, i = s[i+1:i+1+j], i+1+j+1
			}
		} else {
			st := i
			for i < len(s) && !isSpaceByte(s[i]) {
				i++
			}
			val = s[st:i]
		}
		attrs[key] = val
	}
}
