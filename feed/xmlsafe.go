package feed

import (
	"strings"
	"unicode/utf8"
)

// xmlSafe removes the characters XML 1.0 does not allow (most C0 controls,
// U+FFFE, U+FFFF) and invalid UTF-8, which encoding/xml would otherwise
// write as-is inside CDATA and make the document unparseable. It returns s
// itself, without copying, when s is already safe.
func xmlSafe(s string) string {
	i := xmlSafePrefix(s)
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if xmlChar(r) && !(r == utf8.RuneError && n == 1) {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// xmlSafePrefix is the length of the longest prefix of s that is valid
// UTF-8 made of XML characters. It looks at eight bytes at a time while
// they are all printable ASCII.
func xmlSafePrefix(s string) int {
	for i := 0; i < len(s); {
		if i+8 <= len(s) && printable8(load8(s, i)) {
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !xmlChar(r) || (r == utf8.RuneError && n == 1) {
			return i
		}
		i += n
	}
	return len(s)
}

func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
