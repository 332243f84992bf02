package feed

import (
	"regexp"
	"strings"
	"testing"
)

var headingRE = regexp.MustCompile(`<h[1-6]( id="([^"]*)")?>`)

// headingIDsOf renders src and returns the id of each heading ("" for none).
func headingIDsOf(t *testing.T, src string) []string {
	t.Helper()
	out, _ := renderMD(t, src)
	var ids []string
	for _, m := range headingRE.FindAllStringSubmatch(out.HTML, -1) {
		ids = append(ids, m[2])
	}
	return ids
}

func TestHeadingIDs(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"numbered", "# 5. TLDR\n", []string{"5-tldr"}},
		{"dotted number", "## 2.1. Why Role Overlap Exists\n", []string{"21-why-role-overlap-exists"}},
		{"vs.", "# 3. Engineering vs. Data Science in Companies\n", []string{"3-engineering-vs-data-science-in-companies"}},
		{"link", "## See [the docs](https://x.org/a_b) now\n", []string{"see-the-docs-now"}},
		{"code", "## Use `go_test()` now\n", []string{"use-go_test-now"}},
		{"emphasis", "## **Bold** and *em*\n", []string{"bold-and-em"}},
		{"unicode", "## Café Ünïcode 日本\n", []string{"café-ünïcode-日本"}},
		{"underscores", "## snake_case_name\n", []string{"snake_case_name"}},
		{"escaped underscore", "## a\\_b\n", []string{"a_b"}},
		{"entities", "## Tom &amp; Jerry &eacute;\n", []string{"tom--jerry-é"}},
		{"en dash", "## a -- b\n", []string{"a--b"}},
		{"em dash", "## a --- b\n", []string{"a--b"}},
		{"hyphen", "## end-to-end\n", []string{"end-to-end"}},
		{"math", "## with $m=5$\n", []string{"with-m5"}},
		{"image", "## Logo ![alt text](a.png) here\n", []string{"logo--here"}},
		{"raw html", "## A <em>big</em> deal\n", []string{"a-big-deal"}},
		{"duplicates", "# X\n\n## X\n\n### X\n", []string{"x", "x-1", "x-2"}},
		{"empty id", "## ;.;;\n\n## ;;\n", []string{"", "-1"}},
		{"setext", "Title Here\n==========\n", []string{"title-here"}},
		{"in list", "- item\n\n  ## Nested\n", []string{"nested"}},
		{"question", "## Why, you ask?\n", []string{"why-you-ask"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := headingIDsOf(t, tt.src)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("ids = %q, want %q", got, tt.want)
			}
		})
	}
}
