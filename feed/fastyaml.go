package feed

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// fastYAML parses the front matter most posts have (one "key: value" per
// line, values plain or quoted scalars or one-line flow lists, or block
// lists of scalars under an empty "key:", blank lines and comments) without
// yaml.v3, which costs more than reading and hashing the file. It builds
// the nodes yaml.v3 would build (kind, tag for null, value, quoting style,
// lines) and reports ok false for anything else, which is then given to
// yaml.v3. FuzzParsePost checks that both agree.
func fastYAML(fm []byte) (doc yaml.Node, ok bool) {
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1, Column: 1}
	var open *yaml.Node // the last key's value when it may still get block-list items
	for lineNo, rest := 1, fm; len(rest) > 0; lineNo++ {
		var line []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, nil
		}
		if !fastPrintable(line) {
			return doc, false
		}
		trimmed := bytes.TrimLeft(line, " ")
		switch {
		case len(bytes.TrimRight(trimmed, " ")) == 0:
			continue
		case trimmed[0] == '#':
			continue
		case len(trimmed) < len(line): // indented: only "- item" under an open key
			if open == nil || trimmed[0] != '-' || len(trimmed) < 2 || trimmed[1] != ' ' {
				return doc, false
			}
			indent := len(line) - len(trimmed)
			if open.Kind == yaml.ScalarNode { // first item: the value becomes a list
				*open = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: lineNo, Column: indent + 1}
			} else if open.Column != indent+1 {
				return doc, false
			}
			item, ok := fastScalar(bytes.Trim(trimmed[2:], " "), false)
			if !ok || item.Tag == "!!null" {
				return doc, false
			}
			item.Line, item.Column = lineNo, indent+3
			open.Content = append(open.Content, item)
			continue
		}
		// "key: value" at column 1.
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !fastKey(line[:colon]) || (colon+1 < len(line) && line[colon+1] != ' ') {
			return doc, false
		}
		key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: string(line[:colon]), Line: lineNo, Column: 1}
		raw := bytes.Trim(line[colon+1:], " ")
		var val *yaml.Node
		if len(raw) > 0 && raw[0] == '[' {
			val, ok = fastFlowList(raw)
		} else {
			val, ok = fastScalar(raw, false)
		}
		if !ok {
			return doc, false
		}
		val.Line, val.Column = lineNo, colon+3
		open = nil
		if len(raw) == 0 {
			open = val
		}
		root.Content = append(root.Content, key, val)
	}
	if len(root.Content) == 0 {
		return doc, false
	}
	return yaml.Node{Kind: yaml.DocumentNode, Line: 1, Column: 1, Content: []*yaml.Node{root}}, true
}

// fastPrintable reports whether line has only characters the fast path
// handles: printable ASCII and the printable non-ASCII characters of YAML
// (no tab, no control character, no BOM, no NEL, no U+2028/U+2029, which
// yaml.v3 reads as line breaks).
func fastPrintable(line []byte) bool {
	for i := 0; i < len(line); {
		c := line[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7F {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(line[i:])
		if r == utf8.RuneError || r < 0xA0 || (r > 0xD7FF && r < 0xE000) || r == 0xFEFF || r == 0xFFFE || r == 0xFFFF || r == 0x2028 || r == 0x2029 {
			return false
		}
		i += size
	}
	return true
}

// fastKey reports whether k is a plain key of at most 128 letters, digits,
// "_" and "-", starting with a letter or "_".
func fastKey(k []byte) bool {
	for i, c := range k {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case (c >= '0' && c <= '9' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return len(k) > 0 && len(k) <= 128 // YAML caps implicit keys at 1024 characters
}

// fastScalar parses one scalar: empty (null), plain, 'single' or "double"
// quoted (without escapes). inFlow forbids the characters that end a plain
// scalar inside a flow list.
func fastScalar(raw []byte, inFlow bool) (*yaml.Node, bool) {
	if len(raw) == 0 {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}, true
	}
	switch raw[0] {
	case '\'':
		body := raw[1:]
		var b strings.Builder
		for {
			i := bytes.IndexByte(body, '\'')
			if i < 0 {
				return nil, false
			}
			b.Write(body[:i])
			if i+1 < len(body) && body[i+1] == '\'' {
				b.WriteByte('\'')
				body = body[i+2:]
				continue
			}
			if len(bytes.TrimRight(body[i+1:], " ")) != 0 {
				return nil, false
			}
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.SingleQuotedStyle, Value: b.String()}, true
		}
	case '"':
		body := raw[1:]
		i := bytes.IndexByte(body, '"')
		if i < 0 || bytes.IndexByte(body[:i], '\\') >= 0 || len(bytes.TrimRight(body[i+1:], " ")) != 0 {
			return nil, false
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: string(body[:i])}, true
	}
	// A plain scalar: no indicator first, no ": " or " #" inside; when in
	// doubt (any ':' or '#', flow characters), yaml.v3 decides.
	if bytes.IndexByte([]byte("-?:,[]{}#&*!|>'\"%@`"), raw[0]) >= 0 || bytes.ContainsAny(raw, "#[]{}") {
		return nil, false
	}
	if inFlow && bytes.ContainsAny(raw, ",:") {
		return nil, false
	}
	if bytes.Contains(raw, []byte(": ")) || raw[len(raw)-1] == ':' {
		return nil, false
	}
	v := string(raw)
	tag := "!!str"
	switch v {
	case "~", "null", "Null", "NULL":
		tag = "!!null"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v}, true
}

// fastFlowList parses a one-line flow list of scalars: [a, 'b c', "d"].
func fastFlowList(raw []byte) (*yaml.Node, bool) {
	if raw[len(raw)-1] != ']' {
		return nil, false
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
	body := bytes.Trim(raw[1:len(raw)-1], " ")
	for len(body) > 0 {
		var item []byte
		if body[0] == '\'' || body[0] == '"' {
			end := bytes.IndexByte(body[1:], body[0])
			if end < 0 {
				return nil, false
			}
			item, body = body[:end+2], bytes.TrimLeft(body[end+2:], " ")
			if len(body) > 0 && body[0] == item[0] { // a '' escape: let yaml.v3 decide
				return nil, false
			}
		} else {
			i := bytes.IndexByte(body, ',')
			if i < 0 {
				i = len(body)
			}
			item, body = bytes.TrimRight(body[:i], " "), body[i:]
		}
		node, ok := fastScalar(item, true)
		if !ok || node.Tag == "!!null" {
			return nil, false
		}
		seq.Content = append(seq.Content, node)
		if len(body) == 0 {
			break
		}
		if body[0] != ',' {
			return nil, false
		}
		body = bytes.TrimLeft(body[1:], " ")
		if len(body) == 0 { // trailing comma
			return nil, false
		}
	}
	return seq, true
}
