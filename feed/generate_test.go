package feed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// genSnapshot returns n due posts one day apart (newest first), plus a
// draft and a future post that must never be rendered.
func genSnapshot(t testing.TB, n int, now time.Time) *Snapshot {
	t.Helper()
	snap := &Snapshot{}
	for i := range n {
		slug := fmt.Sprintf("post-%03d", i)
		url := "https://blog.example.com/" + slug + "/"
		snap.Posts = append(snap.Posts, &Post{
			Path: slug + ".md", File: "posts/" + slug + ".md", Name: slug, Slug: slug,
			Title: "Post " + slug, Date: now.Add(-time.Duration(i+1) * 24 * time.Hour),
			URL: url, ID: url, Published: true,
		})
	}
	snap.Posts = append(snap.Posts,
		&Post{Path: "draft.md", File: "posts/draft.md", Title: "Draft", Date: now.Add(-time.Hour), URL: "https://blog.example.com/draft/", Published: false},
		&Post{Path: "future.md", File: "posts/future.md", Title: "Future", Date: now.Add(time.Hour), URL: "https://blog.example.com/future/", Published: true},
	)
	return snap
}

// fakeRender renders a post's title into HTML, counting calls and failing
// for the paths in fail.
type fakeRender struct {
	mu       sync.Mutex
	rendered []string
	fail     map[string]bool
	calls    atomic.Int32
}

func (f *fakeRender) render(ctx context.Context, p *Post) (*Rendered, error) {
	f.calls.Add(1)
	f.mu.Lock()
	f.rendered = append(f.rendered, p.Path)
	f.mu.Unlock()
	if f.fail[p.Path] {
		return nil, errors.New("broken body")
	}
	return &Rendered{HTML: "<p>" + p.Title + "</p>", SummaryHTML: "<p>" + p.Title + "</p>", SummaryText: p.Title}, nil
}

func TestGenerateLimitRendersOnlyWhatIsPublished(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		limit      int
		fail       []string
		wantItems  int
		wantCalls  int
		wantErrFor []string
	}{
		{"limit 20 of 100", 20, nil, 20, 20, nil},
		{"limit 0 renders all due", 0, nil, 100, 100, nil},
		{"limit larger than posts", 500, nil, 100, 100, nil},
		{"a failure is replaced by the next post", 5, []string{"post-002.md"}, 5, 6, []string{"posts/post-002.md"}},
		{"failures with limit 0", 0, []string{"post-000.md", "post-099.md"}, 98, 100, []string{"posts/post-000.md", "posts/post-099.md"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fr := &fakeRender{fail: map[string]bool{}}
			for _, f := range tc.fail {
				fr.fail[f] = true
			}
			cfg := testFeeds()
			cfg.Limit = tc.limit
			out, err := generate(context.Background(), fr.render, testSite(t), cfg, genSnapshot(t, 100, now), now)
			if out == nil {
				t.Fatalf("no output (err %v)", err)
			}
			if len(tc.wantErrFor) == 0 && err != nil {
				t.Fatalf("err = %v", err)
			}
			for _, f := range tc.wantErrFor {
				if err == nil || !strings.Contains(err.Error(), f) {
					t.Errorf("err = %v, want it to name %s", err, f)
				}
			}
			if got := int(fr.calls.Load()); got != tc.wantCalls {
				t.Errorf("%d renders, want %d", got, tc.wantCalls)
			}
			for _, p := range fr.rendered {
				if p == "draft.md" || p == "future.md" {
					t.Errorf("rendered %s", p)
				}
			}
			f := parseFeed(t, fileData(t, out, "feed.json"))
			if len(f.Items) != tc.wantItems {
				t.Fatalf("%d items, want %d", len(f.Items), tc.wantItems)
			}
			for i := 1; i < len(f.Items); i++ {
				if !f.Items[i-1].PublishedParsed.After(*f.Items[i].PublishedParsed) {
					t.Errorf("items %d and %d out of order", i-1, i)
				}
			}
			for _, it := range f.Items {
				if slices.Contains(tc.fail, strings.TrimPrefix(strings.TrimSuffix(it.Link, "/"), "https://blog.example.com/")+".md") {
					t.Errorf("failed post %s in feed", it.Link)
				}
			}
		})
	}
}

func TestGenerateCancelled(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fr := &fakeRender{}
	out, err := generate(ctx, fr.render, testSite(t), testFeeds(), genSnapshot(t, 10, now), now)
	if out != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("out %v, err %v; want nil, context.Canceled", out != nil, err)
	}
}

// TestGenerateWithLoader runs the real Loader on a posts folder: the draft
// and the future post are absent, a broken post is reported and the others
// still published, and the time decides what is due.
func TestGenerateWithLoader(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("2024-01-01-first.md", "---\ntitle: First\ntags: [Go, Web]\n---\nHello *world*, see [the next](#next).\n\n## Next\n\nMore.\n")
	write("2024-02-01-second.md", "---\ntitle: Second\ndescription: The second post\n---\nBody of the second post.\n")
	write("2024-03-01-draft.md", "---\ntitle: Draft\npublished: false\n---\nNot yet.\n")
	write("2030-01-01-future.md", "---\ntitle: Future\n---\nLater.\n")

	site := testSite(t)
	l := NewLoader(site, dir, nil)
	snap, err := l.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg := testFeeds()
	cfg.Tags = true
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	out, err := Generate(context.Background(), l, site, cfg, snap, now)
	if err != nil {
		t.Fatal(err)
	}
	f := parseFeed(t, fileData(t, out, "atom.xml"))
	var titles []string
	for _, it := range f.Items {
		titles = append(titles, it.Title)
	}
	if want := []string{"Second", "First"}; !slices.Equal(titles, want) {
		t.Errorf("titles = %q, want %q", titles, want)
	}
	if !strings.Contains(f.Items[1].Content, "<em>world</em>") {
		t.Errorf("content = %q", f.Items[1].Content)
	}
	if _, ok := out.File("tags/go/feed.xml"); !ok {
		t.Errorf("no tag feed: %v", fileNames(out))
	}

	// In 2030 the future post is due too.
	out, err = Generate(context.Background(), l, site, cfg, snap, time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(parseFeed(t, fileData(t, out, "feed.xml")).Items); n != 3 {
		t.Errorf("%d items in 2030, want 3", n)
	}

	// A post that cannot be read any more is reported by file; the others
	// are still published.
	if err := os.Remove(filepath.Join(dir, "2024-02-01-second.md")); err != nil {
		t.Fatal(err)
	}
	out, err = Generate(context.Background(), NewLoader(site, dir, nil), site, cfg, snap, now)
	if err == nil || !strings.Contains(err.Error(), "2024-02-01-second.md") || strings.Count(err.Error(), "2024-02-01-second.md") != 1 {
		t.Errorf("err = %v, want one naming 2024-02-01-second.md once", err)
	}
	if out == nil {
		t.Fatal("no output next to the error")
	}
	if items := parseFeed(t, fileData(t, out, "feed.json")).Items; len(items) != 1 || items[0].Title != "First" {
		t.Errorf("items = %d, want just First", len(items))
	}
}

// TestGenerateTagFeedsReachBack: with tag feeds, the newest cfg.Limit posts
// of each tag are rendered too, and only those.
func TestGenerateTagFeedsReachBack(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	snap := genSnapshot(t, 100, now)
	for i, p := range snap.Posts[:100] {
		p.Tags = []string{"common"}
		if i >= 90 {
			p.Tags = append(p.Tags, "Rare Tag")
		}
	}
	fr := &fakeRender{fail: map[string]bool{"post-091.md": true}}
	cfg := testFeeds()
	cfg.Limit, cfg.Tags = 5, true
	out, err := generate(context.Background(), fr.render, testSite(t), cfg, snap, now)
	if err == nil || !strings.Contains(err.Error(), "post-091.md") {
		t.Errorf("err = %v, want the failure of post-091.md", err)
	}
	// newest 5 overall (000-004) + newest 5 rare (090-094, 091 failed → 095)
	if got := int(fr.calls.Load()); got != 11 {
		t.Errorf("%d renders, want 11", got)
	}
	for name, want := range map[string]int{"feed.xml": 5, "tags/common/feed.xml": 5, "tags/rare-tag/feed.xml": 5} {
		f := parseFeed(t, fileData(t, out, name))
		if len(f.Items) != want {
			t.Errorf("%s: %d items, want %d", name, len(f.Items), want)
		}
	}
	rare := parseFeed(t, fileData(t, out, "tags/rare-tag/atom.xml"))
	if rare.Items[0].Title != "Post post-090" || rare.Items[4].Title != "Post post-095" {
		t.Errorf("rare feed = %q … %q", rare.Items[0].Title, rare.Items[4].Title)
	}
}
