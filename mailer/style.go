package mailer

import (
	"strconv"
	"strings"

	"herald/feed"
)

// Inline styles for the section HTML: mail clients drop <style> blocks, so
// every element the renderer emits gets its look inline. The colours are
// the light palette; the newsletter template's dark-mode style sheet
// overrides them (with !important) where the client supports it.
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
	"img":        "max-width:100%;height:auto;border:0;",
	"figure":     "margin:0 0 16px 0;",
	"figcaption": "margin:6px 0 0 0;font-family:Helvetica,Arial,sans-serif;font-size:13px;line-height:18px;color:#6b7280;",
	"table":      "border-collapse:collapse;margin:0 0 16px 0;",
	"th":         "border:1px solid #e5e7eb;padding:6px 8px;text-align:left;",
	"td":         "border:1px solid #e5e7eb;padding:6px 8px;",
	"hr":         "border:0;border-top:1px solid #e5e7eb;margin:16px 0;",
}

// centredImg is added to an image inside a centred block (align="center",
// text-align:center, <center>): a block image centred by its margins stays
// centred also where the client does not inherit text-align.
const centredImg = "display:block;margin-left:auto;margin-right:auto;"

// styleSection adds inline styles to the section HTML's elements, parsed
// with a real HTML parser (feed.RewriteElements). An element's own style
// comes after Herald's, so it wins. Images keep their intrinsic size (no
// width is forced; max-width caps them at the column), and headings are
// moved down by shift levels (at most h6) so that they rank below the post
// title. On a parse error the HTML is returned unstyled.
func styleSection(s string, shift int) string {
	out, err := feed.RewriteElements(s, func(e *feed.Element) {
		if shift > 0 && len(e.Tag) == 2 && e.Tag[0] == 'h' && e.Tag[1] >= '1' && e.Tag[1] <= '6' {
			e.Tag = "h" + strconv.Itoa(min(int(e.Tag[1]-'0')+shift, 6))
		}
		style, ok := sectionStyles[e.Tag]
		if !ok {
			return
		}
		if e.Tag == "img" && centred(e.Parent) {
			style += centredImg
		}
		if own, ok := e.Get("style"); ok && strings.TrimSpace(own) != "" {
			style += strings.TrimSpace(own)
		}
		e.Set("style", style)
	})
	if err != nil {
		return s
	}
	return out
}

// centred reports whether e or an enclosing element centres its content.
func centred(e *feed.Element) bool {
	for ; e != nil; e = e.Parent {
		if e.Tag == "center" {
			return true
		}
		if a, ok := e.Get("align"); ok && strings.EqualFold(strings.TrimSpace(a), "center") {
			return true
		}
		if st, ok := e.Get("style"); ok {
			st = strings.ToLower(strings.ReplaceAll(st, " ", ""))
			// the element's own declaration: the last text-align wins
			if i := strings.LastIndex(st, "text-align:"); i >= 0 {
				return strings.HasPrefix(st[i+len("text-align:"):], "center")
			}
		}
	}
	return false
}
