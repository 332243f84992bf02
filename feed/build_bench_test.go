package feed

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/feeds"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// peakMem samples the live heap every millisecond until stop is called and
// returns the largest value seen, in MB. It starts from a collected heap.
type peakMem struct {
	stop chan struct{}
	done chan struct{}
	peak uint64
}

func startPeakMem() *peakMem {
	runtime.GC()
	p := &peakMem{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64() + s[1].Value.Uint64(); v > p.peak {
				p.peak = v
			}
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// Stop ends sampling and returns the peak heap in MB.
func (p *peakMem) Stop() float64 {
	close(p.stop)
	<-p.done
	return float64(p.peak) / (1 << 20)
}

// benchEntries makes n entries shaped like the seed post: about 12 KB of
// HTML with headings, links, a figure and math, three tags.
func benchEntries(n int) []Entry {
	loc, _ := time.LoadLocation("Europe/Berlin")
	var body strings.Builder
	for i := range 24 {
		fmt.Fprintf(&body, "<h2 id=\"%d-section\">%d. Section</h2>\n<p>In today&#39;s data world, the lines between <em>Data Engineering</em> (DE), Data Science (DS) and Machine Learning Engineering (MLE) are blurry; see <a href=\"https://example.com/x#%d\">this</a> and $a_%d &lt; b$.</p>\n", i, i, i, i)
		if i%6 == 0 {
			fmt.Fprintf(&body, "<figure><img src=\"https://blog.example.com/assets/img/f%d.jpg\" alt=\"Figure %d\"><figcaption>Figure %d</figcaption></figure>\n", i, i, i)
		}
	}
	html := body.String()
	start := time.Date(2000, 1, 1, 8, 0, 0, 0, loc)
	entries := make([]Entry, n)
	for i := range n {
		slug := fmt.Sprintf("post-%05d", i)
		url := "https://blog.example.com/" + slug + "/"
		entries[i] = Entry{
			Post: &Post{
				Path: slug + ".md", Name: slug, Slug: slug, Title: "Post " + slug,
				Date: start.Add(time.Duration(i) * 7 * time.Hour),
				Tags: []string{"Career", fmt.Sprintf("tag%d", i%10)}, Categories: []string{"blog"},
				URL: url, ID: url, Published: true,
			},
			Rendered: &Rendered{HTML: html, SummaryHTML: "<p>Thoughts after being a D. Engineer</p>", SummaryText: "Thoughts after being a D. Engineer"},
		}
	}
	return entries
}

// BenchmarkBuild measures Build alone on 1,000 and 10,000 rendered entries:
// every entry in the feeds with full content (the worst case), and the
// default limit of 20.
func BenchmarkBuild(b *testing.B) {
	site := testSite(b)
	for _, n := range []int{1000, 10000} {
		entries := benchEntries(n)
		for _, limit := range []int{0, 20} {
			b.Run(fmt.Sprintf("posts=%d/limit=%d", n, limit), func(b *testing.B) {
				cfg := testFeeds()
				cfg.Limit = limit
				b.ReportAllocs()
				pm := startPeakMem()
				var size int
				for b.Loop() {
					out, err := Build(site, cfg, entries)
					if err != nil {
						b.Fatal(err)
					}
					size = 0
					for _, f := range out.Files {
						size += len(f.Data)
					}
				}
				peak := pm.Stop()
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "posts/s")
				b.ReportMetric(peak, "peak-heap-MB")
				b.ReportMetric(float64(size)/(1<<20), "output-MB")
			})
		}
	}
}

// BenchmarkGenerateRender measures Generate's parallel fan-out with a render
// function that costs nothing, to show the overhead of the orchestration.
func BenchmarkGenerateRender(b *testing.B) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	snap := genSnapshot(b, 10000, now)
	r := &Rendered{HTML: "<p>x</p>", SummaryHTML: "<p>x</p>", SummaryText: "x"}
	render := func(ctx context.Context, p *Post) (*Rendered, error) { return r, nil }
	for _, limit := range []int{20, 0} {
		b.Run(fmt.Sprintf("posts=10000/limit=%d", limit), func(b *testing.B) {
			cfg := testFeeds()
			cfg.Limit = limit
			b.ReportAllocs()
			for b.Loop() {
				if _, err := generate(context.Background(), render, testSite(b), cfg, snap, now); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(10000*float64(b.N)/b.Elapsed().Seconds(), "posts/s")
		})
	}
}

// benchPostsDir writes n generated posts (helper A's writeBenchPosts: the
// seed post's size and shape) once per benchmark.
func benchPostsDir(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	writeBenchPosts(b, dir, n)
	return dir
}

// BenchmarkPipeline is what `herald build` does, cold: a new Loader scans
// the folder (reads every file's front matter) and Generate renders the
// posts that go in the feeds and builds RSS, Atom and JSON Feed. limit=20 is
// the default; limit=0 renders every post with full content (compare with
// BenchmarkFloor, run in the same process).
//
//	go test ./feed -run '^$' -bench 'Pipeline|Floor' -benchtime 3x
func BenchmarkPipeline(b *testing.B) {
	ctx := context.Background()
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, n := range []int{1000, 10000} {
		dir := benchPostsDir(b, n)
		site := testSite(b)
		for _, limit := range []int{20, 0} {
			b.Run(fmt.Sprintf("posts=%d/limit=%d", n, limit), func(b *testing.B) {
				cfg := testFeeds()
				cfg.Limit, cfg.FullContent = limit, true
				b.ReportAllocs()
				pm := startPeakMem()
				cpu := cpuTime(b)
				var items int
				for b.Loop() {
					l := NewLoader(site, dir, nil)
					snap, err := l.Scan(ctx)
					if err != nil {
						b.Fatal(err)
					}
					out, err := Generate(ctx, l, site, cfg, snap, now)
					if err != nil {
						b.Fatal(err)
					}
					f, _ := out.File(JSONName)
					items = bytes.Count(f.Data, []byte(`"date_published"`))
				}
				peak := pm.Stop()
				if limit > 0 && items != limit || limit == 0 && items < n*9/10 {
					b.Fatalf("%d items in feed.json", items)
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "posts/s")
				b.ReportMetric(peak, "peak-heap-MB")
				b.ReportMetric(float64(cpuTime(b)-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
			})
		}
	}
}

// BenchmarkFloor is the bare floor of BenchmarkPipeline/limit=0, no Herald
// logic: read every post, cut the front matter at the second "---", render
// the Markdown with goldmark (Table + Strikethrough) on 2 workers, and write
// one gorilla/feeds RSS holding every post.
func BenchmarkFloor(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		dir := benchPostsDir(b, n)
		b.Run(fmt.Sprintf("posts=%d", n), func(b *testing.B) {
			md := goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough))
			b.ReportAllocs()
			pm := startPeakMem()
			cpu := cpuTime(b)
			for b.Loop() {
				ents, err := os.ReadDir(dir)
				if err != nil {
					b.Fatal(err)
				}
				items := make([]*feeds.Item, len(ents))
				var next atomic.Int64
				var wg sync.WaitGroup
				for range 2 {
					wg.Go(func() {
						var html bytes.Buffer
						for {
							i := int(next.Add(1)) - 1
							if i >= len(ents) {
								return
							}
							src, err := os.ReadFile(filepath.Join(dir, ents[i].Name()))
							if err != nil {
								panic(err)
							}
							if _, rest, ok := bytes.Cut(src[3:], []byte("\n---\n")); ok {
								src = rest
							}
							html.Reset()
							if err := md.Convert(src, &html); err != nil {
								panic(err)
							}
							name := ents[i].Name()
							items[i] = &feeds.Item{
								Title: name, Id: name, Content: html.String(),
								Link:    &feeds.Link{Href: "https://blog.example.com/" + name},
								Created: benchPostMtime,
							}
						}
					})
				}
				wg.Wait()
				f := &feeds.Feed{Title: "Floor", Link: &feeds.Link{Href: "https://blog.example.com/"}, Items: items, Created: benchPostMtime}
				var out bytes.Buffer
				if err := f.WriteRss(&out); err != nil {
					b.Fatal(err)
				}
			}
			peak := pm.Stop()
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "posts/s")
			b.ReportMetric(peak, "peak-heap-MB")
			b.ReportMetric(float64(cpuTime(b)-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}
