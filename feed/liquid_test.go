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
			"<div style=\"text-align: center\">\n    " + strings.Replace(fig, `width="50%">`, `width="50%" data-zoomable="">`, 1) + "\n</div>\n", nil},
		{"figure with url and alt", `{% include figure.html url="https://cdn.example.org/x.png" alt="X" %}`,
			`<figure><img src="https://cdn.example.org/x.png" alt="X"></figure>`, nil},
		{"figure without path", "{% include figure.html caption=\"x\" %}\n", "\n", []string{"10: {% include figure.html %} without path or url removed"}},
		{"other include", "a\n{% include other.html id=1 %}\n", "a\n\n", []string{"11: unsupported {% include other.html %} removed"}},
		{"figure.liquid", `{% include figure.liquid loading="eager" path="assets/img/eq.png" title="Update rule" alt="the rule" caption="The <em>update</em> rule" zoomable=true width=300 height="200" %}`,
			`<figure><img src="https://example.com/blog/assets/img/eq.png" alt="the rule" title="Update rule" width="300" height="200" loading="eager" data-zoomable=""><figcaption>The <em>update</em> rule</figcaption></figure>`, nil},
		{"video.liquid file", `{% include video.liquid path="assets/video/a.mp4" class="img-fluid" controls=true autoplay=true caption="A clip" %}`,
			`<figure><video src="https://example.com/blog/assets/video/a.mp4" class="img-fluid" controls autoplay><a href="https://example.com/blog/assets/video/a.mp4">Download the video</a></video><figcaption>A clip</figcaption></figure>`, nil},
		{"video.liquid youtube", `{% include video.liquid path="https://www.youtube.com/embed/jNQXAC9IVRw" class="img-fluid" width="auto" height="auto" %}`,
			`<figure><a href="https://www.youtube.com/watch?v=jNQXAC9IVRw"><img src="https://img.youtube.com/vi/jNQXAC9IVRw/hqdefault.jpg" alt="Video on YouTube" class="img-fluid" width="auto" height="auto"></a></figure>`, nil},
		{"video.liquid vimeo", `{% include video.liquid path="https://player.vimeo.com/video/524933864?h=1ac4fd9fb4" caption="Talk" %}`,
			`<figure><a href="https://vimeo.com/524933864">▶ Talk</a><figcaption>Talk</figcaption></figure>`, nil},
		{"if else keeps else", "a {% if page.x %}one{% else %}two{% endif %} b", "a two b", nil},
		{"if without else keeps nothing", "a {% if page.x %}one{% endif %} b", "a  b", nil},
		{"if on a site variable", "{% if site.url %}yes{% else %}no{% endif %} {% unless site.url %}u{% else %}v{% endunless %}", "yes v", nil},
		{"nested if", "{% if a %}{% if b %}x{% else %}y{% endif %}{% else %}z{% if c %}w{% else %}v{% endif %}{% endif %}", "zv", nil},
		{"elsif keeps else", "{% if a %}1{% elsif b %}2{% else %}3{% endif %}", "3", nil},
		{"cite", "As shown {% cite smith2020 jones2021 --file refs %}.", "As shown [smith2020; jones2021].", nil},
		{"details", "{% details Click here %}\nHidden *text*.\n{% enddetails %}\n", "\n<details><summary>Click here</summary>\n\n\nHidden *text*.\n\n</details>\n\n\n", nil},
		{"twitter", "{% twitter https://twitter.com/x/status/1 maxwidth=500 %}", "<https://twitter.com/x/status/1>", nil},
		{"tabs", "{% tabs log %}\n{% tab log php %}\nA\n{% endtab %}\n{% tab log js %}\nB\n{% endtab %}\n{% endtabs %}\n", "\n\n<p><strong>php</strong></p>\n\n\nA\n\n\n<p><strong>js</strong></p>\n\n\nB\n\n\n", nil},
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
			"line one\nline two \n\n",
			[]string{"11: unsupported Liquid tag {% assign %} removed"}},
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
				if !strings.HasPrefix(got, `<figure><img src="https://example.com/blog/assets/a.png" alt="Cap &amp;" class="img-fluid rounded" width="50%">`) {
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
    <figure><img src="https://example.com/assets/img/posts/2023-10-06-finishing-my-data-career-masterplan/the_fsds_appears.jpg" alt="Figure 2 - The trio is baffled by the appearance of a mythical creature called FSDS." class="img-fluid rounded z-depth-1" width="60%" data-zoomable=""><figcaption>Figure 2 - The trio is baffled by the appearance of a mythical creature called FSDS.</figcaption></figure>
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
