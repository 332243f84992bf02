package feed

import (
	"html"
	"net/url"
	"strings"
)

// include handles {% include FILE key=value … %}: figure.html and
// figure.liquid (al-folio's) become a <figure> with an <img>, video.html
// and video.liquid a <figure> with a <video> (or, for YouTube and Vimeo, a
// link to the video, with YouTube's poster image), rendered as al-folio's
// includes render them for a browser without their scripts. Every other
// include is removed with a warning.
func (p *liquidParser) include(pos int, args string) {
	file, attrs := parseIncludeArgs(args)
	var out string
	switch file {
	case "figure.html", "figure.liquid":
		out = p.figure(pos, file, attrs)
	case "video.html", "video.liquid":
		out = p.video(pos, file, attrs)
	default:
		p.warn(pos, "unsupported {%% include %s %%} removed", file)
		return
	}
	start := len(p.out)
	p.out = append(p.out, out...)
	for i := start; i+1 < len(p.out); i++ { // a caption's links are made absolute too
		if p.out[i] == '<' && isASCIILetter(p.out[i+1]) {
			p.tags = append(p.tags, i)
		}
	}
}

// mediaSource is an include's path (a site path, made absolute) or url.
func (p *liquidParser) mediaSource(pos int, file string, attrs map[string]string) string {
	if src := attrs["path"]; src != "" {
		return p.siteAbs(src)
	}
	if src := attrs["url"]; src != "" {
		return p.siteAbs(src)
	}
	p.warn(pos, "{%% include %s %%} without path or url removed", file)
	return ""
}

// figure renders figure.liquid: path/url, alt, title, caption, class,
// width, height, zoomable, loading.
func (p *liquidParser) figure(pos int, file string, attrs map[string]string) string {
	src := p.mediaSource(pos, file, attrs)
	if src == "" {
		return ""
	}
	alt := attrs["alt"]
	if alt == "" {
		alt = attrs["caption"]
	}
	var b strings.Builder
	b.WriteString(`<figure><img src="`)
	b.WriteString(html.EscapeString(src))
	b.WriteString(`" alt="`)
	b.WriteString(html.EscapeString(stripTags(alt)))
	b.WriteByte('"')
	writeAttrs(&b, attrs, "title", "class", "width", "height", "loading")
	if z := attrs["zoomable"]; z != "" && z != "false" {
		b.WriteString(` data-zoomable=""`)
	}
	b.WriteByte('>')
	writeCaption(&b, attrs["caption"])
	b.WriteString("</figure>")
	return b.String()
}

// video renders video.liquid: path/url, caption, class, width, height,
// controls, autoplay, muted, loop, poster. YouTube and Vimeo videos, which
// al-folio embeds in an <iframe> that feed readers drop, become a link to
// the video (over YouTube's poster image).
func (p *liquidParser) video(pos int, file string, attrs map[string]string) string {
	src := p.mediaSource(pos, file, attrs)
	if src == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString("<figure>")
	label := stripTags(attrs["caption"])
	switch kind, id := videoHost(src); kind {
	case "youtube":
		if label == "" {
			label = "Video on YouTube"
		}
		b.WriteString(`<a href="https://www.youtube.com/watch?v=` + url.QueryEscape(id) + `">`)
		b.WriteString(`<img src="https://img.youtube.com/vi/` + url.PathEscape(id) + `/hqdefault.jpg" alt="` + html.EscapeString(label) + `"`)
		writeAttrs(&b, attrs, "class", "width", "height")
		b.WriteString("></a>")
	case "vimeo":
		if label == "" {
			label = "Video on Vimeo"
		}
		b.WriteString(`<a href="https://vimeo.com/` + url.PathEscape(id) + `">▶ ` + html.EscapeString(label) + `</a>`)
	default:
		b.WriteString(`<video src="`)
		b.WriteString(html.EscapeString(src))
		b.WriteByte('"')
		if poster := attrs["poster"]; poster != "" {
			b.WriteString(` poster="` + html.EscapeString(p.siteAbs(poster)) + `"`)
		}
		writeAttrs(&b, attrs, "class", "width", "height")
		for _, k := range []string{"controls", "autoplay", "muted", "loop"} {
			if v := attrs[k]; v != "" && v != "false" {
				b.WriteString(" " + k)
			}
		}
		if attrs["controls"] == "" {
			b.WriteString(" controls")
		}
		b.WriteString(`><a href="` + html.EscapeString(src) + `">Download the video</a></video>`)
	}
	writeCaption(&b, attrs["caption"])
	b.WriteString("</figure>")
	return b.String()
}

// videoHost recognises YouTube and Vimeo URLs and returns the video's id.
func videoHost(src string) (kind, id string) {
	u, err := url.Parse(src)
	if err != nil {
		return "", ""
	}
	host := strings.TrimPrefix(strings.ToLower(u.Host), "www.")
	host = strings.TrimPrefix(host, "m.")
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	switch host {
	case "youtube.com", "youtube-nocookie.com":
		if v := u.Query().Get("v"); v != "" {
			return "youtube", v
		}
		if len(parts) == 2 && (parts[0] == "embed" || parts[0] == "shorts" || parts[0] == "v") {
			return "youtube", parts[1]
		}
	case "youtu.be":
		if parts[0] != "" {
			return "youtube", parts[0]
		}
	case "vimeo.com", "player.vimeo.com":
		last := parts[len(parts)-1]
		if last != "" && strings.Trim(last, "0123456789") == "" {
			return "vimeo", last
		}
	}
	return "", ""
}

// writeAttrs writes the named attributes of an include that are set.
func writeAttrs(b *strings.Builder, attrs map[string]string, names ...string) {
	for _, k := range names {
		if v := attrs[k]; v != "" {
			b.WriteString(" " + k + `="` + html.EscapeString(v) + `"`)
		}
	}
}

// writeCaption writes a <figcaption>: a caption holding tags is HTML, as
// al-folio writes it (the output is cleaned like any raw HTML of a post);
// any other is text.
func writeCaption(b *strings.Builder, caption string) {
	if strings.TrimSpace(caption) == "" {
		return
	}
	b.WriteString("<figcaption>")
	caption = strings.Join(strings.Fields(caption), " ")
	if !strings.Contains(caption, "<") {
		caption = html.EscapeString(caption) // text, as most captions are
	}
	b.WriteString(caption)
	b.WriteString("</figcaption>")
}

// stripTags removes HTML tags from s, for attribute values.
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>' && in:
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
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
