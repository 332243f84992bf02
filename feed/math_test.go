package feed

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gohugoio/hugo-goldmark-extensions/passthrough"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	grenderer "github.com/yuin/goldmark/renderer"
	ghtml "github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/util"
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

// TestMathWithoutTransformer checks that leaving the passthrough
// extension's AST transformer out changes no output: with inline
// delimiters only, it just rebuilt paragraphs holding math.
func TestMathWithoutTransformer(t *testing.T) {
	full := goldmark.New(
		goldmark.WithExtensions(extension.Table, passthrough.New(passthrough.Config{
			InlineDelimiters: []passthrough.Delimiters{{Open: "$$", Close: "$$"}, {Open: "$", Close: "$"}},
		})),
		goldmark.WithRendererOptions(ghtml.WithUnsafe(), grenderer.WithNodeRenderers(util.Prioritized(mathRenderer{}, 10))),
	)
	ours := goldmark.New(
		goldmark.WithExtensions(extension.Table, mathExtension()),
		goldmark.WithRendererOptions(ghtml.WithUnsafe(), grenderer.WithNodeRenderers(util.Prioritized(mathRenderer{}, 10))),
	)
	seed := seedInput(t).Src
	for _, src := range []string{
		"a $x_1$ b", "$$\na_1 < b\n$$\n", "text $$x$$ text", "- item $a$\n- $$b$$ tail\n- plain\n",
		"1. one $x$\n\n2. two\n", "> quote $q$ and *em*\n", "| a | b |\n|---|---|\n| $x$ | y |\n",
		"# Head $h$\n\npara $p$ [link](#x) $q$\n", "$a<b$ and $5 and $6", "- [ ] task $t$\n", string(seed),
	} {
		var a, b bytes.Buffer
		if err := full.Convert([]byte(src), &a); err != nil {
			t.Fatal(err)
		}
		if err := ours.Convert([]byte(src), &b); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Errorf("%.40q:\ngot  %q\nwant %q", src, b.String(), a.String())
		}
	}
}
