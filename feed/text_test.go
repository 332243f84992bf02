package feed

import (
	"testing"

	"github.com/yuin/goldmark/ast"
)

// plainText renders all of src's blocks as plain text.
func plainText(t *testing.T, src string) string {
	t.Helper()
	r := newRenderer(renderSite())
	d, err := r.parse(&renderInput{Src: []byte(src), PostURL: "https://example.com/p/"})
	if err != nil {
		t.Fatal(err)
	}
	var nodes []ast.Node
	for c := d.doc.FirstChild(); c != nil; c = c.NextSibling() {
		nodes = append(nodes, c)
	}
	tr := newTextRenderer(d.src, d.res)
	tr.blocks(nodes)
	return tr.String()
}

func TestPlainText(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"links numbered once", "See [a](/a), [b](#b) and [a again](/a); <https://x.org/>.\n",
			"See a [1], b [2] and a again [1]; https://x.org/.\n\n[1] https://example.com/a\n[2] https://example.com/p/#b"},
		{"wrap", "word word word word word word word word word word word word word word word word word\n",
			"word word word word word word word word word word word word word word\nword word word"},
		{"heading and emphasis", "## The *Title*\n\nText with `code` and **bold**.\n", "The Title\n\nText with `code` and bold."},
		{"nested lists", "- one\n- two\n  1. a\n  2. b\n- three\n", "- one\n- two\n  1. a\n  2. b\n- three"},
		{"ordered start", "3. c\n4. d\n", "3. c\n4. d"},
		{"loose list", "- one\n\n- two\n", "- one\n\n- two"},
		{"code verbatim", "```go\nfunc x() {\n\tif a < b {}\n}\n```\n", "func x() {\n\tif a < b {}\n}"},
		{"image", "![A cat](cat.png)\n", "[image: A cat]"},
		{"image without alt", "Go ![](icon.png) here.\n", "Go here."},
		{"html image without alt", "<div>\n<img src=\"icon.png\" alt=\"\">Icon\n</div>\n", "Icon"},
		{"figure html", "<div>\n<figure><img src=\"a.png\" alt=\"Fig 1\"><figcaption>Fig 1</figcaption></figure>\n</div>\n", "[image: Fig 1]"},
		{"quote", "> quoted\n> text\n", "> quoted text"},
		{"hard break", "a  \nb\n", "a\nb"},
		{"entities and escapes", "Tom &amp; Jerry \\*not em\\*\n", "Tom & Jerry *not em*"},
		{"math", "If $a<b$ then $$x_1$$.\n", "If $a<b$ then $$x_1$$."},
		{"table", "| a | b |\n|---|---|\n| 1 | 2 |\n", "a | b\n1 | 2"},
		{"task list", "- [x] done\n- [ ] todo\n", "- [x] done\n- [ ] todo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := plainText(t, tt.src); got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}
