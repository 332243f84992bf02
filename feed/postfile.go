package feed

import (
	"bytes"
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// lineMsg is a message about one line of a post file (0: no line).
type lineMsg struct {
	line int
	msg  string
}

// postError is why a post file is not a post: the post is skipped.
type postError lineMsg

func (e *postError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("line %d: %s", e.line, e.msg)
	}
	return e.msg
}

// postName splits a post file's base name "YYYY-MM-DD-slug.md" (or
// ".markdown") into its name without extension, date and slug. ok is false
// for any other name.
func postName(base string) (name, date, slug string, ok bool) {
	switch {
	case strings.HasSuffix(base, ".md"):
		name = base[:len(base)-len(".md")]
	case strings.HasSuffix(base, ".markdown"):
		name = base[:len(base)-len(".markdown")]
	default:
		return "", "", "", false
	}
	if len(name) < len("2006-01-02-x") || name[4] != '-' || name[7] != '-' || name[10] != '-' {
		return "", "", "", false
	}
	for _, i := range []int{0, 1, 2, 3, 5, 6, 8, 9} {
		if name[i] < '0' || name[i] > '9' {
			return "", "", "", false
		}
	}
	return name, name[:10], name[11:], true
}

// pathCategories are the folders above a "_posts" folder in rel, which
// Jekyll adds to a post's categories ("blog/_posts/x.md" → ["blog"]).
func pathCategories(rel string) []string {
	dirs := strings.Split(path.Dir(rel), "/")
	for i := len(dirs) - 1; i >= 0; i-- {
		if dirs[i] == "_posts" {
			var out []string
			for _, d := range dirs[:i] {
				if d != "" && d != "." {
					out = append(out, d)
				}
			}
			return out
		}
	}
	return nil
}

// checkUTF8 returns an error naming the line and column of the first invalid
// UTF-8 byte in data, or nil.
func checkUTF8(data []byte) *postError {
	if utf8.Valid(data) {
		return nil
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return &postError{line, fmt.Sprintf("invalid UTF-8: byte 0x%02X at column %d (save the file as UTF-8)", data[i], col)}
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return &postError{0, "invalid UTF-8 (save the file as UTF-8)"}
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// splitFrontMatter finds the front matter at the very top of data (after an
// optional UTF-8 BOM): a line "---", the YAML, and a line "---" or "..."
// (trailing spaces and a CR allowed, as Jekyll). It returns the YAML text
// (CRLF turned into LF), the rest of the file as is, and the 1-based line of
// the body's first line.
func splitFrontMatter(data []byte) (fm, body []byte, bodyLine int, perr *postError) {
	data = bytes.TrimPrefix(data, utf8BOM)
	first, _, _ := bytes.Cut(data, []byte{'\n'})
	if string(bytes.TrimRight(first, " \t\r")) != "---" {
		return nil, nil, 0, &postError{1, `no front matter: a post starts with a "---" line, then YAML with at least a title, then "---"`}
	}
	line := 1
	for pos := len(first) + 1; pos < len(data); {
		l, next := data[pos:], len(data)
		if end := bytes.IndexByte(l, '\n'); end >= 0 {
			l, next = l[:end], pos+end+1
		}
		line++
		if t := string(bytes.TrimRight(l, " \t\r")); t == "---" || t == "..." {
			fm = data[len(first)+1 : pos]
			if bytes.IndexByte(fm, '\r') >= 0 {
				fm = bytes.ReplaceAll(fm, []byte("\r\n"), []byte("\n"))
			}
			return fm, data[next:], line + 1, nil
		}
		pos = next
	}
	return nil, nil, 0, &postError{1, `front matter not closed: no "---" line after the opening one`}
}

// yamlLine finds the 1-based line of a yaml.v3 error in the YAML text and
// returns it (0 when the error has none) with the message without its
// "yaml: line N: " prefix. yaml.v3 writes the line of scanner errors 1-based
// but the line of parser errors (a broken flow list, a missing key: the line
// where the broken construct starts) 0-based; this undoes that.
func yamlLine(err error) (int, string) {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return 0, msg
	}
	num, tail, ok := strings.Cut(rest, ":")
	n, err := strconv.Atoi(num)
	if !ok || err != nil {
		return 0, msg
	}
	tail = strings.TrimSpace(tail)
	for _, parserErr := range []string{
		"did not find expected node content", "did not find expected key", "did not find expected '-' indicator",
		"did not find expected ',' or", "did not find expected <", "found duplicate %", "found incompatible YAML",
		"found undefined tag handle",
	} {
		if strings.HasPrefix(tail, parserErr) {
			n++
			break
		}
	}
	return n, tail
}

// yamlLines converts the lines of the front matter fm, as yaml.v3 counts
// them, to lines of the file: the front matter starts on the file's line 2,
// and yaml.v3 also breaks lines at a lone CR, NEL, U+2028 and U+2029, which
// the file's line numbers (and editors) do not. It looks at fm once, so a
// front matter of many keys costs time in proportion to its size.
type yamlLines struct {
	file []int // file line of each yaml.v3 line (index n-1); nil: line n is file line n+1
}

func newYAMLLines(fm []byte) yamlLines {
	if bytes.IndexByte(fm, '\r') < 0 && !bytes.Contains(fm, []byte("\u0085")) &&
		!bytes.Contains(fm, []byte("\u2028")) && !bytes.Contains(fm, []byte("\u2029")) {
		return yamlLines{}
	}
	file := []int{2}
	line := 2
	for i := 0; i < len(fm); {
		r, size := utf8.DecodeRune(fm[i:])
		switch r {
		case '\n':
			line++
			file = append(file, line)
		case '\r':
			if i+1 < len(fm) && fm[i+1] == '\n' {
				size++
				line++
			}
			file = append(file, line)
		case 0x85, 0x2028, 0x2029:
			file = append(file, line)
		}
		i += size
	}
	return yamlLines{file: file}
}

// fileLine is the file line of yaml.v3's line n (1-based).
func (m yamlLines) fileLine(n int) int {
	switch {
	case m.file == nil:
		return n + 1
	case n < 1:
		return m.file[0]
	case n > len(m.file):
		return m.file[len(m.file)-1]
	}
	return m.file[n-1]
}

// decodeYAML parses front matter into a node, never panicking.
func decodeYAML(fm []byte) (doc yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	err = yaml.Unmarshal(fm, &doc)
	return doc, err
}
