package feed

import (
	"strings"
	"testing"
)

func TestMath(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // exact HTML
	}{
		{"underscores", "Let $a_1_b$ and $x_2_y$.\n", "<p>Let $a_1_b$ and $x_2_y$.</p>\n"},
		{"less than", "If $a<b$ then.\n", "<p>If $a&lt;b$ then.</p>\n"},
		{"ampersand", "$$a & b$$\n", "<p>$$a &amp; b$$</p>\n"},
		{"display inline keeps paragraph", "text $$x_1$$ text\n", "<p>text $$x_1$$ text</p>\n"},
		{"cap in list item", "- DE $$\\cap$$ DS $$\\cap$$ MLE:\n  - **Data**: x\n",
			"<ul>\n<li>DE $$\\cap$$ DS $$\\cap$$ MLE:\n<ul>\n<li><strong>Data</strong>: x</li>\n</ul>\n</li>\n</ul>\n"},
		{"display block", "Before.\n\n$$\nx_1 = \\frac{a*b}{c*d}\n$$\n\nAfter.\n",
			"<p>Before.</p>\n<p>$$\nx_1 = \\frac{a*b}{c*d}\n$$</p>\n<p>After.</p>\n"},
		{"star not emphasis", "$a*b*c$\n", "<p>$a*b*c$</p>\n"},
		{"code span wins", "`$a_b$`\n", "<p><code>$a_b$</code></p>\n"},
		{"escaped dollar", "costs \\$5 and \\$6\n", "<p>costs $5 and $6</p>\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := renderMD(t, tt.src)
			if out.HTML != tt.want {
				t.Errorf("HTML =\n%q\nwant\n%q", out.HTML, tt.want)
			}
			if strings.Contains(out.HTML, "<em>") {
				t.Errorf("math became emphasis: %q", out.HTML)
			}
		})
	}
}
