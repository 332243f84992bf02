package feed

import (
	"strings"
	"testing"
	"time"
)

func TestZZPatho(t *testing.T) {
	for name, src := range map[string]string{
		"dollars":   strings.Repeat("a $ b ", 5000),
		"dollars2":  strings.Repeat("a $$ b\n", 5000),
		"divs":      strings.Repeat("<div>\n", 5000),
		"tags":      strings.Repeat("{% ", 5000),
		"tagsclose": strings.Repeat("{% x %}\n", 5000),
		"outs":      strings.Repeat("{{ ", 5000),
		"ticks":     strings.Repeat("` ", 5000),
		"ticks2":    strings.Repeat("`` a ` ", 5000),
		"styles":    strings.Repeat("<style ", 5000),
		"brace":     strings.Repeat("{: ", 5000),
		"lists":     strings.Repeat("- a\n  ", 5000),
		"headings":  strings.Repeat("# a\n", 5000),
	} {
		start := time.Now()
		var n int
		in := &renderInput{Src: []byte(src), PostURL: "https://example.com/p/", Warn: func(int, string) { n++ }}
		if _, err := newRenderer(renderSite()).render(in); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %v (%d warnings)", name, time.Since(start), n)
	}
}
