package feed

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	grenderer "github.com/yuin/goldmark/renderer"
	ghtml "github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

func BenchmarkZZ(b *testing.B) {
	in := seedInput(b)
	r := newRenderer(renderSite())
	lsrc, _ := r.liquidTags(nil, in.Src, in)
	cfgs := map[string]goldmark.Markdown{
		"0floor": goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough), goldmark.WithRendererOptions(ghtml.WithUnsafe())),
		"1task":  goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.TaskList), goldmark.WithRendererOptions(ghtml.WithUnsafe())),
		"2foot":  goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.Footnote), goldmark.WithRendererOptions(ghtml.WithUnsafe())),
		"3math":  goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough, mathExtension()), goldmark.WithRendererOptions(ghtml.WithUnsafe())),
		"4hid":   goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough), goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(headingIDs{}, 1000))), goldmark.WithRendererOptions(ghtml.WithUnsafe())),
		"5url": goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough), goldmark.WithRendererOptions(ghtml.WithUnsafe(), grenderer.WithNodeRenderers(
			util.Prioritized(mathRenderer{}, 10),
			util.Prioritized(newURLRenderer(), 10),
		))),
		"6all": r.md,
	}
	for _, name := range []string{"0floor", "1task", "2foot", "3math", "4hid", "5url", "6all"} {
		md := cfgs[name]
		b.Run(name+"/parse", func(b *testing.B) {
			c0 := cpuTime(b)
			defer func() { b.ReportMetric(float64(cpuTime(b)-c0)/1e3/float64(b.N), "cpu-us/op") }()
			for b.Loop() {
				md.Parser().Parse(text.NewReader(lsrc))
			}
		})
		b.Run(name+"/convert", func(b *testing.B) {
			var buf bytes.Buffer
			res, _ := newURLResolver(seedURL)
			c0 := cpuTime(b)
			defer func() { b.ReportMetric(float64(cpuTime(b)-c0)/1e3/float64(b.N), "cpu-us/op") }()
			for b.Loop() {
				buf.Reset()
				doc := md.Parser().Parse(text.NewReader(lsrc))
				w := newCleanWriter(&buf, res)
				md.Renderer().Render(w, lsrc, doc)
				w.Flush()
			}
		})
	}
	b.Run("liquid", func(b *testing.B) {
		var dst []byte
		c0 := cpuTime(b)
		defer func() { b.ReportMetric(float64(cpuTime(b)-c0)/1e3/float64(b.N), "cpu-us/op") }()
		for b.Loop() {
			dst, _ = r.liquidTags(dst[:0], in.Src, in)
		}
	})
	b.Run("render", func(b *testing.B) {
		c0 := cpuTime(b)
		defer func() { b.ReportMetric(float64(cpuTime(b)-c0)/1e3/float64(b.N), "cpu-us/op") }()
		for b.Loop() {
			r.render(in)
		}
	})
}

func BenchmarkZZPhases(b *testing.B) {
	ctx := context.Background()
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	dir := benchPostsDir(b, 10000)
	site := testSite(b)
	cfg := testFeeds()
	cfg.Limit, cfg.FullContent = 0, true
	var tScan, tRender, tBuild time.Duration
	for b.Loop() {
		c0 := cpuTime(b)
		l := NewLoader(site, dir, nil)
		snap, err := l.Scan(ctx)
		if err != nil {
			b.Fatal(err)
		}
		c1 := cpuTime(b)
		var due []*Post
		for _, p := range snap.Posts {
			if p.Due(now) {
				due = append(due, p)
			}
		}
		rs, _ := renderAll(ctx, l.Render, due)
		c2 := cpuTime(b)
		entries := make([]Entry, len(due))
		for i, p := range due {
			entries[i] = Entry{Post: p, Rendered: rs[i]}
		}
		if _, err := Build(site, cfg, entries); err != nil {
			b.Fatal(err)
		}
		c3 := cpuTime(b)
		tScan += c1 - c0
		tRender += c2 - c1
		tBuild += c3 - c2
	}
	n := float64(b.N) * 1e6
	b.ReportMetric(float64(tScan)/n, "scan-cpu-ms")
	b.ReportMetric(float64(tRender)/n, "render-cpu-ms")
	b.ReportMetric(float64(tBuild)/n, "build-cpu-ms")
}
