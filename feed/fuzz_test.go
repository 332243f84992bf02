package feed

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// FuzzParsePost feeds arbitrary bytes to the post parser (front matter,
// dates, permalinks) and to the body splitter: no input may panic, an
// error is always a *postError with a line inside the file, and a parsed
// post always has a title, an absolute URL and an id.
//
//	go test ./feed -run '^$' -fuzz FuzzParsePost -fuzztime 30s -fuzzminimizetime 3s
//
// (with the default -fuzzminimizetime of 60s, minimizing the 13 kB seed post
// stalls the run for a minute at a time).
func FuzzParsePost(f *testing.F) {
	f.Add(seedPost)
	for _, s := range []string{
		"",
		"---",
		"---\n---\n",
		"---\ntitle: T\n---\nbody",
		"\uFEFF---\r\ntitle: T\r\ntags: a b\r\n---\r\nbody\r\n",
		"---\ntitle: T\ntags: [a, b\n---\n",
		"---\ntitle: T\ndate: 2024-02-30\n---\n",
		"---\ntitle: T\ndate: 2024-03-31 02:30:00 +02:00\nupdated: 2024-03-31T02:30:00Z\n---\n",
		"---\ntitle: caf\xe9\n---\n",
		"---\ntitle: &a [*a]\n---\n",
		"---\ntitle: T\nauthor: &a [*a, {name: *a}]\ntags: &b [*b]\n---\n",
		"---\nx: &a b\ntitle: *a\ntags: *a\nimage: {path: *a}\n---\n",
		"---\ntitle: T\npermalink: /:categories/:year/:nope/:title:output_ext\ncategories: [A b, 'c/d']\n---\n",
		"---\ntitle: T\nimage: {url: //cdn/x.png}\nauthor: {name: A}\nid: urn:x\n---\n",
		"---\ntitle: T\npublished: no\ndraft: maybe\nnewsletter: 'false'\n---\n",
		"---\n- a\n---\n",
		"---\ntitle: |\n  multi\n  line\n...\nbody",
		"---\n\ttitle: T\n---\n",
		"# no front matter\n",
	} {
		f.Add([]byte(s))
	}
	site := DefaultSite()
	site.Title = "Fuzz"
	site.URL = "https://example.com"
	site.BaseURL = "/blog"
	site.Timezone = "Europe/Berlin"
	site.Permalink = "/:categories/:year/:month/:day/:title/"
	if err := site.Validate(); err != nil {
		f.Fatal(err)
	}
	pp := newPostParser(&site)
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := strings.Count(string(data), "\n") + 1
		out, err := pp.parse("sub/2024-03-31-fuzz.md", data)
		if err != nil {
			var perr *postError
			if !errors.As(err, &perr) {
				t.Fatalf("error %T %v is not a *postError", err, err)
			}
			if perr.line < 0 || perr.line > lines+1 {
				t.Fatalf("error line %d outside a file of %d lines: %v", perr.line, lines, err)
			}
			return
		}
		p := out.post
		if p.Title == "" || !strings.HasPrefix(p.URL, "https://example.com/blog/") || p.ID == "" {
			t.Fatalf("parsed post without title, URL or id: %+v", p)
		}
		if !utf8.ValidString(p.Title) || strings.Contains(strings.TrimPrefix(p.URL, "https://"), "//") {
			t.Fatalf("bad title or URL: %q %q", p.Title, p.URL)
		}
		if p.Date.Location() != site.Location() {
			t.Fatalf("date %v not in the site's zone", p.Date)
		}
		for _, w := range out.warnings {
			if w.line < 0 || w.line > lines+1 {
				t.Fatalf("warning line %d outside the file: %s", w.line, w.msg)
			}
		}
		// The body splitter agrees with the parser on where the body starts.
		_, _, bodyLine, perr := splitFrontMatter(data)
		if perr != nil || bodyLine != p.BodyLine {
			t.Fatalf("splitFrontMatter: line %d, %v; parse: BodyLine %d", bodyLine, perr, p.BodyLine)
		}
	})
}

// sameYAML reports how two YAML trees differ in what the front-matter
// reader looks at ("" when they do not): kinds, null-ness, scalar values,
// quoting, key lines, and the shape of lists and mappings.
func sameYAML(a, b *yaml.Node, path string) string {
	if a == nil || b == nil {
		if a != b {
			return path + ": one is nil"
		}
		return ""
	}
	if a.Kind != b.Kind {
		return fmt.Sprintf("%s: kind %v vs %v", path, a.Kind, b.Kind)
	}
	if a.Kind == yaml.ScalarNode {
		quoted := func(n *yaml.Node) bool { return n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 }
		if isNull(a) != isNull(b) || a.Value != b.Value || quoted(a) != quoted(b) {
			return fmt.Sprintf("%s: scalar %q (%s, %v) vs %q (%s, %v)", path, a.Value, a.Tag, a.Style, b.Value, b.Tag, b.Style)
		}
	}
	if len(a.Content) != len(b.Content) {
		return fmt.Sprintf("%s: %d vs %d children", path, len(a.Content), len(b.Content))
	}
	for i := range a.Content {
		if a.Kind == yaml.MappingNode && i%2 == 0 && a.Content[i].Line != b.Content[i].Line {
			return fmt.Sprintf("%s: key %d on line %d vs %d", path, i/2, a.Content[i].Line, b.Content[i].Line)
		}
		if d := sameYAML(a.Content[i], b.Content[i], fmt.Sprintf("%s/%d", path, i)); d != "" {
			return d
		}
	}
	return ""
}

// FuzzFastYAML checks the front-matter fast path against yaml.v3: whatever
// the fast path accepts, yaml.v3 must read the same way.
//
//	go test ./feed -run '^$' -fuzz FuzzFastYAML -fuzztime 30s
func FuzzFastYAML(f *testing.F) {
	fm, _, _, _ := splitFrontMatter(seedPost)
	f.Add(fm)
	for _, s := range fastYAMLCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := fastYAML(data)
		if !ok {
			return
		}
		slow, err := decodeYAML(data)
		if err != nil {
			t.Fatalf("fast path accepted what yaml.v3 rejects (%v): %q", err, data)
		}
		if d := sameYAML(&fast, &slow, ""); d != "" {
			t.Fatalf("fast path and yaml.v3 differ: %s\ninput: %q", d, data)
		}
	})
}
