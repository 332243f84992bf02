package mailer

import (
	"html"
	"regexp"
	"strings"
	"unicode/utf8"
)

// textWidth is the column plain-text parts are wrapped at (the section's
// text comes wrapped at the same width from feed).
const textWidth = 72

// wrapText wraps every line of s longer than width at spaces, keeping the
// line's leading white space on its continuation lines. A word longer than
// width (a URL) is never broken: it gets a line of its own.
func wrapText(s string, width int) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/width)
	for i, line := range strings.Split(s, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		if utf8.RuneCountInString(line) <= width {
			b.WriteString(line)
			continue
		}
		body := strings.TrimLeft(line, " \t")
		indent := line[:len(line)-len(body)]
		col := 0
		for j, w := range strings.Fields(body) {
			n := utf8.RuneCountInString(w)
			switch {
			case j == 0:
				b.WriteString(indent)
				col = utf8.RuneCountInString(indent)
			case col+1+n > width:
				b.WriteByte('\n')
				b.WriteString(indent)
				col = utf8.RuneCountInString(indent)
			default:
				b.WriteByte(' ')
				col++
			}
			b.WriteString(w)
			col += n
		}
	}
	return b.String()
}

// maxPreheader is the length of the hidden preview text, in characters
// (clients show 40 to 140).
const maxPreheader = 140

var (
	// linkListRE: the numbered link list feed appends to a section's text.
	linkListRE = regexp.MustCompile(`(?m)^\[\d+\] \S+$`)
	// refRE: link numbers " [3]" and footnote markers "[^2]".
	refRE = regexp.MustCompile(`\s?\[\d+\]|\[\^[^\]\s]+\]`)
	// imageRE: "[image: alt]" (images say nothing in a preview).
	imageRE = regexp.MustCompile(`\[image:[^\]]*\]`)
	// displayMathRE: $$…$$ (TeX source is not text).
	displayMathRE = regexp.MustCompile(`(?s)\$\$.*?\$\$`)
	// inlineMathRE: $…$ as Pandoc reads it: no space inside either dollar,
	// and the closing one not followed by a digit ("$5 and $10" is money).
	inlineMathRE = regexp.MustCompile(`\$[^\s$](?:[^$\n]*[^\s$])?\$`)
)

// preheader makes the hidden preview text of a newsletter from the text
// part of its (first) post: prose only, without link numbers, footnote
// markers, image placeholders, TeX source or HTML entities, on one line,
// at most maxPreheader characters, cut at a word.
func preheader(text string) string {
	s := linkListRE.ReplaceAllString(text, "")
	s = displayMathRE.ReplaceAllString(s, " ")
	s = inlineMath(s)
	s = imageRE.ReplaceAllString(s, " ")
	s = refRE.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	s = strings.ReplaceAll(s, "`", "")
	s = strings.Join(strings.Fields(s), " ")
	s = strings.NewReplacer(" ,", ",", " .", ".", " ;", ";", " :", ":").Replace(s)
	if utf8.RuneCountInString(s) <= maxPreheader {
		return s
	}
	r := []rune(s)[:maxPreheader]
	cut := string(r)
	if i := strings.LastIndexByte(cut, ' '); i > maxPreheader/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,;:") + "…"
}

// inlineMath removes $…$ spans, except where the closing dollar is
// followed by a digit (then it is not math).
func inlineMath(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range inlineMathRE.FindAllStringIndex(s, -1) {
		if m[1] < len(s) && s[m[1]] >= '0' && s[m[1]] <= '9' {
			continue
		}
		b.WriteString(s[last:m[0]])
		b.WriteByte(' ')
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String()
}
