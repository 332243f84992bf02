package feed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"herald/feed/testkit"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	ghtml "github.com/yuin/goldmark/renderer/html"
)

// renderSite is the site the render tests use.
func renderSite() *Site {
	return &Site{Title: "Blog", URL: "https://example.com", Language: "en"}
}

const seedURL = "https://example.com/2023/10/06/finishing-my-data-career-masterplan/"

// seedInput returns the seed post's body as the Loader gives it.
func seedInput(t testing.TB) *renderInput {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "render", "seed.md"))
	if err != nil {
		t.Fatal(err)
	}
	end := bytes.Index(data[4:], []byte("\n---\n"))
	if !bytes.HasPrefix(data, []byte("---\n")) || end < 0 {
		t.Fatal("seed.md: no front matter")
	}
	fm := data[:4+end+5]
	return &renderInput{
		Src:         data[len(fm):],
		File:        "seed.md",
		Line:        bytes.Count(fm, []byte{'\n'}) + 1,
		PostURL:     seedURL,
		Description: "Thoughts after being a D. Engineer, D. Scientist, and ML Engineer",
	}
}

// warnings collects renderer warnings as "line: msg".
type warnings []string

func (w *warnings) add(line int, msg string) { *w = append(*w, fmt.Sprintf("%d: %s", line, msg)) }

// renderMD renders src as the body of a post at postURL whose body starts
// on file line 1.
func renderMD(t *testing.T, src string) (*Rendered, warnings) {
	t.Helper()
	var w warnings
	in := &renderInput{Src: []byte(src), File: "post.md", Line: 1, PostURL: "https://example.com/blog/post/", Warn: w.add,
		Resolve: func(kind, arg string) (string, bool) {
			if kind == "post_url" && arg == "2020-01-02-other" {
				return "https://example.com/blog/other/", true
			}
			if kind == "link" && arg == "about.md" {
				return "https://example.com/about/", true
			}
			return "", false
		}}
	out, err := newRenderer(renderSite()).render(in)
	if err != nil {
		t.Fatal(err)
	}
	return out, w
}

func TestRenderSeedGolden(t *testing.T) {
	var w warnings
	in := seedInput(t)
	in.Warn = w.add
	out, err := newRenderer(renderSite()).render(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(w) > 0 {
		t.Errorf("warnings on the seed post: %q", w)
	}
	testkit.Golden(t, filepath.Join("testdata", "render", "seed.html"), []byte(out.HTML))
	for _, bad := range []string{"<style", "<script", "{%", "{{", "<pre>", "<code>", "</p>\n</p>"} {
		if strings.Contains(out.HTML, bad) {
			t.Errorf("seed HTML contains %q", bad)
		}
	}
	if n := strings.Count(out.HTML, "<figure><img src=\"https://example.com/assets/img/posts/"); n != 4 {
		t.Errorf("seed HTML has %d absolute figures, want 4", n)
	}
	if got, want := out.SummaryHTML, "<p>Thoughts after being a D. Engineer, D. Scientist, and ML Engineer</p>"; got != want {
		t.Errorf("SummaryHTML = %q, want %q", got, want)
	}
}

var (
	hrefRE = regexp.MustCompile(`href="([^"]*)"`)
	idRE   = regexp.MustCompile(` id="([^"]*)"`)
)

func TestSeedTOCResolves(t *testing.T) {
	out, err := newRenderer(renderSite()).render(seedInput(t))
	if err != nil {
		t.Fatal(err)
	}
	toc, _, _ := strings.Cut(out.HTML, "<h1")
	ids := map[string]bool{}
	for _, m := range idRE.FindAllStringSubmatch(out.HTML, -1) {
		ids[m[1]] = true
	}
	n := 0
	for _, m := range hrefRE.FindAllStringSubmatch(toc, -1) {
		frag, ok := strings.CutPrefix(m[1], seedURL+"#")
		if !ok {
			t.Errorf("TOC link %q is not %s#…", m[1], seedURL)
			continue
		}
		n++
		if !ids[frag] {
			t.Errorf("TOC link #%s has no heading with that id", frag)
		}
	}
	if n != 8 {
		t.Errorf("found %d TOC links, want 8", n)
	}
}

func TestRenderSummary(t *testing.T) {
	tests := []struct {
		name, src, desc, sep string
		wantHTML, wantText   string
	}{
		{"description", "Para *one*.\n", "A <b>short</b> one", "", "<p>A &lt;b&gt;short&lt;/b&gt; one</p>", "A <b>short</b> one"},
		{"first paragraph", "- [TOC](#a)\n\n# Title\n\nFirst *para* with [a link](x/).\nSecond line.\n\nSecond para.\n", "", "",
			"<p>First <em>para</em> with <a href=\"https://example.com/blog/post/x/\">a link</a>. Second line.</p>", "First para with a link. Second line."},
		{"separator", "One.\n\nTwo.\n<!--more-->\nThree.\n", "", "<!--more-->",
			"<p>One.</p> <p>Two.</p>", "One. Two."},
		{"separator absent", "One.\n\nTwo.\n", "", "<!--more-->", "<p>One.</p>", "One."},
		{"only a heading: the text", "# Only a heading\n", "", "", "<p>Only a heading</p>", "Only a heading"},
		{"raw HTML first: its text", "<p>Moin Moin,</p>\n<p>wie geht's &amp; so?</p>\n", "", "", "<p>Moin Moin, wie geht&#39;s &amp; so?</p>", "Moin Moin, wie geht's & so?"},
		{"empty body: the title", "\n", "", "", "<p>Redirect &amp; more</p>", "Redirect & more"},
		{"long text cut", "<div>" + strings.Repeat("word ", 100) + "</div>\n", "", "", "<p>" + strings.TrimSpace(strings.Repeat("word ", 60)) + "…</p>", strings.TrimSpace(strings.Repeat("word ", 60)) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &renderInput{Src: []byte(tt.src), PostURL: "https://example.com/blog/post/", Title: "Redirect\r\n& more", Description: tt.desc, ExcerptSeparator: tt.sep}
			out, err := newRenderer(renderSite()).render(in)
			if err != nil {
				t.Fatal(err)
			}
			if out.SummaryHTML != tt.wantHTML {
				t.Errorf("SummaryHTML = %q, want %q", out.SummaryHTML, tt.wantHTML)
			}
			if out.SummaryText != tt.wantText {
				t.Errorf("SummaryText = %q, want %q", out.SummaryText, tt.wantText)
			}
		})
	}
}

func TestRenderMarkdownFeatures(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
		notWant   []string
	}{
		{"table", "| a | b |\n|---|---|\n| 1 | 2 |\n", []string{"<table>", "<td>1</td>"}, nil},
		{"strikethrough", "~~gone~~\n", []string{"<del>gone</del>"}, nil},
		{"task list", "- [x] done\n- [ ] todo\n", []string{`checked="" disabled="" type="checkbox"`}, nil},
		{"footnote", "Text[^1].\n\n[^1]: Note.\n", []string{`href="https://example.com/blog/post/#fn:1"`, "Note."}, nil},
		{"no linkify", "See https://example.com/x now.\n", []string{"See https://example.com/x now."}, []string{"<a "}},
		{"raw html kept", "<aside>hi</aside>\n\nA <kbd>key</kbd>.\n", []string{"<aside>hi</aside>", "<kbd>key</kbd>"}, nil},
		{"figure alone is an HTML block", "Text\n\n{% include figure.html path=\"img/a.png\" caption=\"A\" %}\n\nMore\n",
			[]string{"<p>Text</p>\n<figure><img src=\"https://example.com/img/a.png\" alt=\"A\"><figcaption>A</figcaption></figure>\n<p>More</p>"}, []string{"<p><figure>"}},
		{"div with blank lines and indentation", "<div class=\"x\">\n  <p>a</p>\n\n    <p>b [c](d)</p>\n</div>\nAfter *x*\n",
			[]string{"<div class=\"x\">\n  <p>a</p>\n    <p>b [c](d)</p>\n</div>\n<p>After <em>x</em></p>"}, []string{"<pre>"}},
		{"post_url link", "[o]({% post_url 2020-01-02-other %})\n", []string{`<a href="https://example.com/blog/other/">o</a>`}, nil},
		{"kramdown typography", "It's \"quoted\" -- and... --- <<x>>\n", []string{"It’s “quoted” – and… — «x»"}, nil},
		{"typography not in code", "`\"x\" -- y`\n\n    \"a\" -- b\n", []string{"<code>&quot;x&quot; -- y</code>", "&quot;a&quot; -- b"}, []string{"“"}},
		{"emphasis next to CJK punctuation", "**最深刻的体验或许是意义感的消失。**我觉得\n", []string{"<strong>最深刻的体验或许是意义感的消失。</strong>我觉得"}, []string{"**"}},
		{"block IAL after a paragraph", "Lead text.\n{: .lead #intro style=\"color:red\"}\n\nNext.\n", []string{`<p id="intro" class="lead">Lead text.</p>`, "<p>Next.</p>"}, []string{"{:", "style", "color"}},
		{"block IAL before a paragraph", "{: .note}\nNoted.\n", []string{`<p class="note">Noted.</p>`}, []string{"{:"}},
		{"block IAL on its own after a list", "- a\n- b\n\n{: .compact}\n\ntext\n", []string{"<ul>", "<p>text</p>"}, []string{"{:"}},
		{"block IAL after a heading", "## Title\n{: .big}\n", []string{`<h2 class="big" id="title">Title</h2>`}, []string{"{:"}},
		{"nomarkdown passes raw HTML", "{::nomarkdown}\n<div class=\"x\">\n\n*not emphasis*\n</div>\n{:/nomarkdown}\n\nafter *em*\n", []string{`<div class="x">`, "*not emphasis*", "<em>em</em>"}, []string{"nomarkdown", "<em>not"}},
		{"money is not math", "A **$1,000,000 mortgage at 6%**, repaying about **$6,092/month** for $5 and $10.\n", []string{"<strong>$1,000,000 mortgage at 6%</strong>", "<strong>$6,092/month</strong>", "for $5 and $10."}, []string{"**"}},
		{"math still math", "Let $x_1 + y_1$ and $$a_b_c$$ and $a$.\n", []string{"$x_1 + y_1$", "$$a_b_c$$", "$a$"}, []string{"<em>"}},
		{"no math after a space", "costs $ 5 and $x $ y\n", []string{"costs $ 5 and $x $ y"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := renderMD(t, tt.src)
			for _, w := range tt.want {
				if !strings.Contains(out.HTML, w) {
					t.Errorf("HTML %q lacks %q", out.HTML, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out.HTML, w) {
					t.Errorf("HTML %q contains %q", out.HTML, w)
				}
			}
		})
	}
}

// writePost writes a post file into dir.
func writePost(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoaderRenderSectionCheck(t *testing.T) {
	dir := t.TempDir()
	seed, err := os.ReadFile(filepath.Join("testdata", "render", "seed.md"))
	if err != nil {
		t.Fatal(err)
	}
	writePost(t, dir, "2023-10-06-finishing-my-data-career-masterplan.md", string(seed))
	writePost(t, dir, "2023-10-07-other.md", "---\ntitle: Other\n---\nSee [the plan]({% post_url 2023-10-06-finishing-my-data-career-masterplan %}).\n\n{% youtube abc %}\n")
	site := renderSite()
	site.Timezone = "UTC"
	site.Permalink = "/:year/:month/:day/:title/"
	if err := site.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	l := NewLoader(site, dir, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := context.Background()
	snap, err := l.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Posts) != 2 {
		t.Fatalf("scan: %d posts, problems %v", len(snap.Posts), snap.Problems)
	}
	other, plan := snap.Posts[0], snap.Posts[1]

	out, err := l.Render(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if want := `<a href="` + plan.URL + `">the plan</a>`; !strings.Contains(out.HTML, want) {
		t.Errorf("post_url: HTML %q lacks %q", out.HTML, want)
	}
	again, err := l.Render(ctx, other)
	if err != nil || again != out {
		t.Errorf("second Render: %p, %v; want the cached %p", again, err, out)
	}
	if got := strings.Count(logs.String(), "unsupported Liquid tag"); got != 1 {
		t.Errorf("logged the warning %d times, want once:\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), "line=6") {
		t.Errorf("log lacks line=6:\n%s", logs.String())
	}

	probs := l.Check(ctx, other)
	if len(probs) != 1 || !probs[0].Warning || probs[0].Line != 6 || probs[0].File != other.File ||
		!strings.Contains(probs[0].Msg, "youtube") {
		t.Errorf("Check = %+v, want one warning at %s:6 about youtube", probs, other.File)
	}
	if probs := l.Check(ctx, plan); len(probs) != 0 {
		t.Errorf("Check(seed) = %v, want none", probs)
	}

	sec, err := l.Section(ctx, plan, "TLDR", 0)
	if err != nil {
		t.Fatal(err)
	}
	if sec.Heading != "5. TLDR" || sec.Fallback || !strings.Contains(sec.HTML, "Key points to remember") {
		t.Errorf("Section = %+v", sec)
	}
	sec, err = l.Section(ctx, other, "TLDR", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !sec.Fallback || !strings.Contains(sec.Text, "See the plan [1]") {
		t.Errorf("fallback Section = %+v", sec)
	}
}

func BenchmarkRender(b *testing.B) {
	r := newRenderer(renderSite())
	in := seedInput(b) // with its description, as published
	b.SetBytes(int64(len(in.Src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.render(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
}

// BenchmarkGoldmarkFloor renders the same source with plain goldmark
// (tables and strikethrough, raw HTML): the floor BenchmarkRender is
// compared with.
func BenchmarkGoldmarkFloor(b *testing.B) {
	md := goldmark.New(
		goldmark.WithExtensions(extension.Table, extension.Strikethrough),
		goldmark.WithRendererOptions(ghtml.WithUnsafe()),
	)
	in := seedInput(b)
	b.SetBytes(int64(len(in.Src)))
	b.ReportAllocs()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := md.Convert(in.Src, &buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
}

var scriptRE = regexp.MustCompile(`(?i)<(script|style)[\s/>]`)

// FuzzRender checks that no input makes the pipeline panic or loop, and
// that its output never carries a <script> or <style> element.
func FuzzRender(f *testing.F) {
	f.Add(string(seedInput(f).Src))
	for _, s := range []string{
		"{% include figure.html path=a caption='x' %}", "{% raw %}{{", "`{{ x }}`", "<div>\n\n    {% foo %}\n</div>",
		"<style>", "<script>x</script>", "$a_1$ $$b$$", "- [x](#y)\n{:toc}", "{%", "{{", "{:", "<div", "```\n{% raw %}",
		"# 1. A\n## 1. A", "{% highlight x %}```{% endhighlight %}", "<sCrIpT/>a</script>", "[^1]\n\n[^1]: x",
	} {
		f.Add(s)
	}
	r := newRenderer(renderSite())
	f.Fuzz(func(t *testing.T, src string) {
		in := &renderInput{Src: []byte(src), PostURL: "https://example.com/p/", Warn: func(int, string) {}}
		out, err := r.render(in)
		if err != nil {
			t.Fatal(err)
		}
		if scriptRE.MatchString(out.HTML) {
			t.Errorf("output keeps a script or style: %q", out.HTML)
		}
		if _, err := r.section(in, "TLDR"); err != nil && !errors.Is(err, ErrNoSection) {
			t.Fatal(err)
		}
	})
}

func TestRenderConcurrent(t *testing.T) {
	r := newRenderer(renderSite())
	want, err := r.render(seedInput(t))
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			in := seedInput(t)
			got, err := r.render(in)
			if err == nil && got.HTML != want.HTML {
				err = fmt.Errorf("concurrent render differs")
			}
			if err == nil {
				r.store("k", got)
				_, _ = r.cached("k")
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
