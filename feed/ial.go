package feed

import "bytes"

// isIALLine reports whether a (left-trimmed) line holds only a kramdown
// attribute list or extension, such as "{: .lead }", "{:toc}", "{::options … /}".
func isIALLine(b []byte) bool {
	b = bytes.TrimRight(b, " \t")
	return len(b) >= 3 && b[0] == '{' && b[1] == ':' && b[len(b)-1] == '}' && bytes.IndexByte(b[:len(b)-1], '}') < 0
}

// isTOCMarker reports whether an attribute-list line is kramdown's {:toc}.
func isTOCMarker(b []byte) bool {
	b = bytes.TrimSpace(bytes.Trim(bytes.TrimSpace(b), "{:}"))
	return string(b) == "toc" || string(b) == ".toc" || string(b) == "#toc"
}
