package feed

import (
	"bytes"
	"testing"
)

func TestURLResolve(t *testing.T) {
	tests := []struct {
		post, ref, want string
	}{
		{"https://example.com/blog/post/", "#x", "https://example.com/blog/post/#x"},
		{"https://example.com/blog/post/", "#", "https://example.com/blog/post/"},
		{"https://example.com/blog/post/", "", "https://example.com/blog/post/"},
		{"https://example.com/blog/post/", "/a.png", "https://example.com/a.png"},
		{"https://example.com/blog/post/", "/blog/a.png", "https://example.com/blog/a.png"},
		{"https://example.com/blog/post/", "img/b.png", "https://example.com/blog/post/img/b.png"},
		{"https://example.com/blog/post/", "./img/b.png?x=1#f", "https://example.com/blog/post/img/b.png?x=1#f"},
		{"https://example.com/blog/post/", "../other/", "https://example.com/blog/other/"},
		{"https://example.com/2023/post.html", "img/b.png", "https://example.com/2023/img/b.png"},
		{"https://example.com/blog/post/", "//cdn.example.org/x.js", "https://cdn.example.org/x.js"},
		{"https://example.com/blog/post/", "https://other.org/a?b=1&c=2", "https://other.org/a?b=1&c=2"},
		{"https://example.com/blog/post/", "mailto:me@example.com", "mailto:me@example.com"},
		{"https://example.com/blog/post/", "data:image/png;base64,AAA=", "data:image/png;base64,AAA="},
		{"https://example.com/blog/post/", "a%20b.png", "https://example.com/blog/post/a%20b.png"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			r, err := newURLResolver(tt.post)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.abs(tt.ref); got != tt.want {
				t.Errorf("abs(%q) against %s = %q, want %q", tt.ref, tt.post, got, tt.want)
			}
		})
	}
}

func TestCleanHTML(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"markdown link", `<p><a href="#x">x</a> <a href="/a">a</a></p>`,
			`<p><a href="https://example.com/blog/post/#x">x</a> <a href="https://example.com/a">a</a></p>`},
		{"img src", `<img src="img/b.png" alt="B &amp; C">`, `<img src="https://example.com/blog/post/img/b.png" alt="B &amp; C">`},
		{"srcset", `<img srcset="a.png 1x, /b.png 2x" src="a.png"/>`,
			`<img srcset="https://example.com/blog/post/a.png 1x, https://example.com/b.png 2x" src="https://example.com/blog/post/a.png" />`},
		{"upper case raw html", `<A HREF='x.html' Title="t">x</A>`, `<a href="https://example.com/blog/post/x.html" title="t">x</A>`},
		{"absolute untouched", `<a href="https://o.org/?a=1&amp;b=2">o</a><a href="mailto:a@b.c">m</a>`,
			`<a href="https://o.org/?a=1&amp;b=2">o</a><a href="mailto:a@b.c">m</a>`},
		{"video poster", `<video poster="p.jpg" src="v.mp4"></video>`,
			`<video poster="https://example.com/blog/post/p.jpg" src="https://example.com/blog/post/v.mp4"></video>`},
		{"style removed", "<p>a</p>\n<style>\n.x { color: red }\n</style>\n<p>b</p>", "<p>a</p>\n\n<p>b</p>"},
		{"script removed", `<p>a<script src="x.js"></script>b<SCRIPT>if (a < b) {}</SCRIPT>c<script/>d</script>e</p>`, `<p>abce</p>`},
		{"text untouched", "<p>a &lt; b &amp;&amp; c &gt; d é</p>\n", "<p>a &lt; b &amp;&amp; c &gt; d é</p>\n"},
		{"comments dropped", "<p>a<!-- x --> b</p>\n<!-- c\n-- d -->", "<p>a b</p>\n"},
		{"no url attribute", `<div class="x" style="y"><span>z</span></div>`, `<div class="x" style="y"><span>z</span></div>`},
	}
	r, err := newURLResolver("https://example.com/blog/post/")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			cleanHTML(&out, []byte(tt.in), r)
			if got := out.String(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestRenderAbsoluteURLs(t *testing.T) {
	src := "[frag](#intro) ![img](/assets/a.png) [rel](img/b.png) [abs](https://x.org/) <img src=\"c.png\">\n\n[ref]: d.html\n\nA [ref] link. <https://auto.example.org/p>\n"
	out, _ := renderMD(t, src)
	for _, want := range []string{
		`href="https://example.com/blog/post/#intro"`,
		`src="https://example.com/assets/a.png"`,
		`href="https://example.com/blog/post/img/b.png"`,
		`href="https://x.org/"`,
		`src="https://example.com/blog/post/c.png"`,
		`href="https://example.com/blog/post/d.html"`,
		`href="https://auto.example.org/p"`,
	} {
		if !bytes.Contains([]byte(out.HTML), []byte(want)) {
			t.Errorf("HTML lacks %s:\n%s", want, out.HTML)
		}
	}
}

func TestRenderRawHTMLURLs(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"quoted", `<p><img src="c.png" alt="x"></p>`, `<p><img src="https://example.com/blog/post/c.png" alt="x"></p>`},
		{"upper case, unquoted, single", "<P><IMG SRC=c.png ALT=x> <a class='k' HREF='/d?a=1&amp;b=2'>d</a></P>",
			`<P><IMG SRC="https://example.com/blog/post/c.png" ALT=x> <a class='k' HREF='https://example.com/d?a=1&amp;b=2'>d</a></P>`},
		{"srcset over lines", "<div>\n<img\n  srcset=\"a.png 1x, b.png 2x\"\n  src=\"#top\">\n</div>",
			"<div>\n<img\n  srcset=\"https://example.com/blog/post/a.png 1x, https://example.com/blog/post/b.png 2x\"\n  src=\"https://example.com/blog/post/#top\">\n</div>"},
		{"liquid inside the attribute", `<p><img src="{{ site.url }}/a.png"> <a href="{% post_url 2020-01-02-other %}">o</a></p>`,
			`<p><img src="https://example.com/a.png"> <a href="https://example.com/blog/other/">o</a></p>`},
		{"inline raw html", "Text <a href=\"x/\">y</a> end.", `<p>Text <a href="https://example.com/blog/post/x/">y</a> end.</p>`},
		{"code span untouched", "`<a href=\"x/\">`", "<p><code>&lt;a href=&quot;x/&quot;&gt;</code></p>"},
		{"not a tag", "a <b c=\"d/\" <e> f", `<p>a &lt;b c=“d/” <e> f</p>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := renderMD(t, tt.src+"\n")
			if got := out.HTML; got != tt.want+"\n" {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
