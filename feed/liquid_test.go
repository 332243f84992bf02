package feed

import (
	"strings"
	"testing"
)

// liquidOf runs only the Liquid pass over src, whose first line is file
// line 10, on a site with a baseurl.
func liquidOf(t *testing.T, src string) (string, warnings) {
	t.Helper()
	var w warnings
	site := &Site{Title: "Blog", URL: "https://example.com", BaseURL: "/blog", Description: "About things"}
	in := &renderInput{Src: []byte(src), File: "p.md", Line: 10, Warn: w.add,
		Resolve: func(kind, arg string) (string, bool) {
			switch {
			case kind == "post_url" && arg == "2020-01-02-other":
				return "https://example.com/blog/other/", true
			case kind == "link" && arg == "_posts/2020-01-02-other.md":
				return "https://example.com/blog/other/", true
			case kind == "link":
				return "https://example.com/blog/" + arg, false
			}
			return "", false
		}}
	return string(newRenderer(site).liquid(nil, []byte(src), in)), w
}

const fig = `<figure><img src="https://example.com/blog/assets/a.png" alt="Cap &amp; &#34;q&#34;" class="img-fluid rounded" width="50%"><figcaption>Cap &amp; &#34;q&#34;</figcaption></figure>`

func TestLiquid(t *testing.T) {
	tests := []struct {
		name, src, want string
		warn            []string
	}{
		{"figure", `{% include figure.html path="assets/a.png" class="img-fluid rounded" width="50%" caption="Cap & "q"" %}` + "\n",
			// a double quote cannot sit inside a double-quoted value: the caption ends at the second quote
			"", nil},
		{"figure attribute order and spaces", `{% include figure.html caption = 'Cap & "q"' width=50% path = "/assets/a.png" class="img-fluid rounded" %}` + "\n", fig + "\n", nil},
		{"figure over several lines", "<div style=\"text-align: center\">\n    {% include figure.html path=\"assets/a.png\" class=\"img-fluid rounded\" zoomable=true \n    width=\"50%\"\n    caption = 'Cap & \"q\"'\n    %}\n</div>\n",
			"<div style=\"text-align: center\">\n    " + fig + "\n</div>\n", nil},
		{"figure with url and alt", `{% include figure.html url="https://cdn.example.org/x.png" alt="X" %}`,
			`<figure><img src="https://cdn.example.org/x.png" alt="X"></figure>`, nil},
		{"figure without path", "{% include figure.html caption=\"x\" %}\n", "\n", []string{"10: {% include figure.html %} without path or url removed"}},
		{"other include", "a\n{% include video.html id=1 %}\n", "a\n\n", []string{"11: unsupported {% include video.html %} removed"}},
		{"site url", "[home]({{ site.url }}{{site.baseurl}}/) {{- site.description -}}", "[home](https://example.com/blog/) About things", nil},
		{"filters", `![a]({{ "/assets/b.png" | relative_url }}) ![c]({{ 'c.png' | absolute_url }}) {{ site.baseurl | append: "/x" }}`,
			`![a](/blog/assets/b.png) ![c](https://example.com/blog/c.png) /blog/x`, nil},
		{"post_url", "[o]({% post_url 2020-01-02-other %})", "[o](https://example.com/blog/other/)", nil},
		{"link", "[o]({% link _posts/2020-01-02-other.md %})", "[o](https://example.com/blog/other/)", nil},
		{"link to a page", "[a]({% link about.md %})", "[a](https://example.com/blog/about.md)", []string{"10: {% link about.md %}: not a post; linked as a site path"}},
		{"unknown post_url", "x\n\n[o]({% post_url 1999-01-01-gone %})", "x\n\n[o](#)", []string{"12: {% post_url 1999-01-01-gone %}: no such post or page; the link points to the post itself"}},
		{"raw", "{% raw %}{{ page.title }} {% if x %}{% endraw %} {{ site.url }}", "{{ page.title }} {% if x %} https://example.com", nil},
		{"comment", "a {% comment %}secret {{ x }}\nmore{% endcomment %}b", "a b", nil},
		{"unknown tag", "line one\nline two {% assign x = 1 %}\n{% if x %}\nshown\n{% endif %}\n",
			"line one\nline two \n\nshown\n\n",
			[]string{"11: unsupported Liquid tag {% assign %} removed", "12: unsupported Liquid tag {% if %} removed", "14: unsupported Liquid tag {% endif %} removed"}},
		{"unknown output", "a {{ page.title | upcase }} b\n", "a  b\n", []string{"10: unsupported Liquid output {{ page.title | upcase }} removed"}},
		{"multi-line tag line", "a\nb\n{% foo\n bar %}\nc {% baz %}\n", "a\nb\n\nc \n", []string{"12: unsupported Liquid tag {% foo %} removed", "14: unsupported Liquid tag {% baz %} removed"}},
		{"unclosed", "a {% b\n", "a {% b\n", []string{"10: unclosed Liquid tag \"{%\" left as text"}},
		{"fenced code untouched", "```liquid\n{% include figure.html path=\"a\" %} {{ site.url }}\n```\n{{ site.url }}\n",
			"```liquid\n{% include figure.html path=\"a\" %} {{ site.url }}\n```\nhttps://example.com\n", nil},
		{"tilde fence in list", "- item\n\n  ~~~\n  {{ x }}\n  ~~~\n", "- item\n\n  ~~~\n  {{ x }}\n  ~~~\n", nil},
		{"raw markers dropped in code", "```\n{% raw %}{{ x }}{% endraw %}\n```\n", "```\n{{ x }}\n```\n", nil},
		{"indented code untouched", "para\n\n    {{ site.url }} {% foo %}\n\n{{ site.url }}\n", "para\n\n    {{ site.url }} {% foo %}\n\nhttps://example.com\n", nil},
		{"indented continuation is not code", "para\n    {{ site.url }}\n", "para\n    https://example.com\n", nil},
		{"list paragraph is not code", "- a\n\n    {{ site.url }}\n", "- a\n\n    https://example.com\n", nil},
		{"inline code untouched", "`{{ site.url }}` and ``a ` {% b %}`` {{ site.url }}", "`{{ site.url }}` and ``a ` {% b %}`` https://example.com", nil},
		{"unmatched backtick", "a ` {{ site.url }}", "a ` https://example.com", nil},
		{"highlight", "{% highlight ruby linenos %}\ndef x; {{ y }}; end\n{% endhighlight %}\n", "```ruby\ndef x; {{ y }}; end\n```\n\n", nil},
		{"attribute list lines", "para\n{: .lead }\n\n{:toc}\n![a](b.png){: width=\"50%\"}\n", "para\n{: .lead}\n\n![a](b.png)\n", nil},
		{"attribute list with other attributes", "para\n{: #intro .a style=\"x\" .b}\n{: style=\"only\"}\n", "para\n{: #intro .a .b}\n", nil},
		{"toc placeholder", "* TOC\n{:toc}\n\n# A\n", "\n# A\n", nil},
		{"style removed", "a\n<style>\n  p { x: 1 }\n\n  q {}\n</style>\nb <script>alert(1)</script> c\n", "a\nb  c\n", nil},
		{"div with blank lines stays one block", "<div>\n  <p>x</p>\n\n    <p>{{ site.url }}</p>\n</div>\nText\n", "<div>\n  <p>x</p>\n    <p>https://example.com</p>\n</div>\n\nText\n", nil},
		{"div with pre keeps blank lines", "<div><pre>\na\n\nb\n</pre></div>\n", "<div><pre>\na\n\nb\n</pre></div>\n", nil},
		{"div markdown=1", "<div markdown=\"1\">\n\n*x*\n\n</div>\n", "<div markdown=\"1\">\n\n*x*\n\n</div>\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, w := liquidOf(t, tt.src)
			if tt.name == "figure" {
				if !strings.HasPrefix(got, `<figure><img src="https://example.com/blog/assets/a.png" alt="Cap &amp; " class="img-fluid rounded" width="50%">`) {
					t.Errorf("got %q", got)
				}
				return
			}
			if got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
			if strings.Join(w, "\n") != strings.Join(tt.warn, "\n") {
				t.Errorf("warnings\n%q\nwant\n%q", w, tt.warn)
			}
		})
	}
}

func TestLiquidSeedFigures(t *testing.T) {
	in := seedInput(t)
	var w warnings
	in.Warn = w.add
	got := string(newRenderer(renderSite()).liquid(nil, in.Src, in))
	if strings.Contains(got, "{%") || strings.Contains(got, "<style") || len(w) > 0 {
		t.Errorf("Liquid left tags, a style, or warned: %q", w)
	}
	want := `<div style="text-align: center">
    <figure><img src="https://example.com/assets/img/posts/2023-10-06-finishing-my-data-career-masterplan/the_fsds_appears.jpg" alt="Figure 2 - The trio is baffled by the appearance of a mythical creature called FSDS." class="img-fluid rounded z-depth-1" width="60%"><figcaption>Figure 2 - The trio is baffled by the appearance of a mythical creature called FSDS.</figcaption></figure>
</div>
`
	if !strings.Contains(got, want) {
		t.Errorf("the second figure is not\n%s", want)
	}
}

func TestLiquidWarningLineInSeed(t *testing.T) {
	in := seedInput(t)
	in.Src = []byte(strings.Replace(string(in.Src), "# 3. Engineering", "{% toc %}\n# 3. Engineering", 1))
	var w warnings
	in.Warn = w.add
	newRenderer(renderSite()).liquid(nil, in.Src, in)
	// "# 3. Engineering vs. Data Science in Companies" is line 112 of seed.md.
	if want := []string{"112: unsupported Liquid tag {% toc %} removed"}; strings.Join(w, "") != strings.Join(want, "") {
		t.Errorf("warnings %q, want %q", w, want)
	}
}
