package mailer

import (
	"regexp"
	"strings"
)

// Inline styles for the section HTML: mail clients drop <style> blocks, so
// every element the renderer emits gets its look inline.
var sectionStyles = map[string]string{
	"p":          "margin:0 0 16px 0;",
	"a":          "color:#1d4ed8;text-decoration:underline;",
	"h1":         "margin:24px 0 8px 0;font-family:Helvetica,Arial,sans-serif;font-size:22px;line-height:28px;color:#111827;",
	"h2":         "margin:24px 0 8px 0;font-family:Helvetica,Arial,sans-serif;font-size:20px;line-height:26px;color:#111827;",
	"h3":         "margin:20px 0 8px 0;font-family:Helvetica,Arial,sans-serif;font-size:18px;line-height:24px;color:#111827;",
	"h4":         "margin:16px 0 8px 0;font-family:Helvetica,Arial,sans-serif;font-size:16px;line-height:22px;color:#111827;",
	"h5":         "margin:16px 0 8px 0;font-family:Helvetica,Arial,sans-serif;font-size:15px;line-height:22px;color:#111827;",
	"h6":         "margin:16px 0 8px 0;font-family:Helvetica,Arial,sans-serif;font-size:14px;line-height:20px;color:#111827;",
	"ul":         "margin:0 0 16px 0;padding:0 0 0 24px;",
	"ol":         "margin:0 0 16px 0;padding:0 0 0 24px;",
	"li":         "margin:0 0 6px 0;",
	"blockquote": "margin:0 0 16px 0;padding:0 0 0 16px;border-left:4px solid #e5e7eb;color:#4b5563;",
	"pre":        "margin:0 0 16px 0;padding:12px;background-color:#f3f4f6;font-family:Menlo,Consolas,monospace;font-size:14px;line-height:20px;white-space:pre-wrap;word-wrap:break-word;",
	"code":       "font-family:Menlo,Consolas,monospace;font-size:14px;background-color:#f3f4f6;",
	"img":        "display:block;max-width:100%;height:auto;border:0;",
	"figure":     "margin:0 0 16px 0;",
	"figcaption": "margin:6px 0 0 0;font-family:Helvetica,Arial,sans-serif;font-size:13px;line-height:18px;color:#6b7280;",
	"table":      "border-collapse:collapse;margin:0 0 16px 0;",
	"th":         "border:1px solid #e5e7eb;padding:6px 8px;text-align:left;",
	"td":         "border:1px solid #e5e7eb;padding:6px 8px;",
	"hr":         "border:0;border-top:1px solid #e5e7eb;margin:16px 0;",
}

// imgWidth is the column's content width (600 px minus 2 × 24 px padding):
// the width attribute Outlook's Word engine needs, as it ignores max-width.
const imgWidth = "552"

var startTagRE = regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9]*)(\s[^<>]*?)?(/?)>`)
var styleAttrRE = regexp.MustCompile(`(?i)\sstyle\s*=\s*"`)
var widthAttrRE = regexp.MustCompile(`(?i)\swidth\s*=`)

// styleSection adds inline styles to the section HTML's start tags (and a
// width attribute to images).
func styleSection(s string) string {
	return startTagRE.ReplaceAllStringFunc(s, func(tag string) string {
		m := startTagRE.FindStringSubmatch(tag)
		name := strings.ToLower(m[1])
		style, ok := sectionStyles[name]
		if !ok {
			return tag
		}
		attrs, slash := m[2], m[3]
		if loc := styleAttrRE.FindStringIndex(attrs); loc != nil {
			attrs = attrs[:loc[1]] + style + attrs[loc[1]:]
		} else {
			attrs += ` style="` + style + `"`
		}
		if name == "img" && !widthAttrRE.MatchString(attrs) {
			attrs += ` width="` + imgWidth + `"`
		}
		if slash != "" {
			slash = " /"
		}
		return "<" + m[1] + attrs + slash + ">"
	})
}
