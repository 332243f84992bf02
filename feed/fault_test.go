package feed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The fault tests of issue 8: hostile files in the posts folder must not
// hang or stall a scan, and must be reported with their file.

// post is a small valid post with the given title and body.
func post(title, body string) string {
	return "---\ntitle: " + title + "\n---\n" + body
}

// within runs fn and fails the test when it has not returned after a
// minute: a guard against hangs (a FIFO opened for reading blocks for
// ever), not a speed assertion.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("%s hung", what)
	}
}

// problemFor returns the Problem of snap about file, failing when none.
func problemFor(t *testing.T, snap *Snapshot, file string) Problem {
	t.Helper()
	for _, p := range snap.Problems {
		if p.File == file {
			return p
		}
	}
	t.Fatalf("no problem reported for %s; problems: %v", file, snap.Problems)
	return Problem{}
}

func postPaths(snap *Snapshot) []string {
	var out []string
	for _, p := range snap.Posts {
		out = append(out, p.Path)
	}
	return out
}

func TestScanTooLarge(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "2024-01-01-a.md", post("A", "a\n"), oldTime)
	big := filepath.Join(dir, "2024-01-02-big.md")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(post("Big", "x\n"))
	if err := f.Truncate(50 << 20); err != nil { // 50 MB, sparse
		t.Fatal(err)
	}
	f.Close()
	l := NewLoader(loaderSite(t, "UTC", ""), dir, nil)
	snap := scan(t, l)
	p := problemFor(t, snap, big)
	if want := big + ": file is 50.0 MB, more than posts.max_size (4MB); skipped"; p.Error() != want || p.Warning {
		t.Errorf("problem = %q (warning %v), want %q", p.Error(), p.Warning, want)
	}
	if l.reads.Load() != 1 {
		t.Errorf("%d files read, want 1: the big one must not be read", l.reads.Load())
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	out, err := Generate(context.Background(), l, l.site(), &FeedsConfig{Limit: 20, FullContent: true, URL: "https://example.com/blog"}, snap, now)
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := out.File(RSSName); !strings.Contains(string(f.Data), "<title>A</title>") {
		t.Errorf("the other post is not in the feed:\n%s", f.Data)
	}
	// Cached: the next scan reports it again without reading anything.
	snap = scan(t, l)
	problemFor(t, snap, big)
	if l.reads.Load() != 1 {
		t.Errorf("%d files read, want 1", l.reads.Load())
	}

	// A file that grows past the limit between the walk and the read.
	l2 := NewLoader(loaderSite(t, "UTC", ""), dir, nil)
	l2.SetLimits(&PostsConfig{MaxSize: 64 << 20})
	grow := writeFile(t, dir, "2024-01-03-grows.md", post("Grows", "x\n"), oldTime)
	l2.maxSize = 1 << 20
	l2.beforeRead = func(file string) {
		if file == grow {
			if err := os.Truncate(grow, 2<<20); err != nil {
				t.Error(err)
			}
		}
	}
	snap = scan(t, l2)
	if p := problemFor(t, snap, grow); !strings.Contains(p.Msg, "more than posts.max_size (1MB)") {
		t.Errorf("problem = %q, want the size limit", p.Error())
	}
}

// hostile are front matters and bodies that once took seconds to minutes.
func hostilePosts() map[string]string {
	keys := func(n int) string {
		var b strings.Builder
		b.WriteString("---\ntitle: Many keys\n")
		for i := range n {
			fmt.Fprintf(&b, "key%d: value %d\n", i, i)
		}
		b.WriteString("---\nbody\n")
		return b.String()
	}
	nestedYAML := func(n int) string {
		var b strings.Builder
		b.WriteString("---\ntitle: Nested\ntags:\n")
		for i := range n {
			b.WriteString(strings.Repeat(" ", i+1))
			b.WriteString("-\n")
		}
		b.WriteString("---\nbody\n")
		return b.String()
	}
	nestedList := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(strings.Repeat("  ", i))
			b.WriteString("- item\n")
		}
		return post("Nested list", "Intro.\n\n"+b.String())
	}
	return map[string]string{
		"20k keys":                 keys(20000),
		"100k keys":                keys(100000),
		"100k keys, not fast path": strings.Replace(keys(100000), "key0: value 0", "key0: \"value\\t0\"", 1),
		"5 MB title":               "---\ntitle: " + strings.Repeat("word ", 1<<20) + "\n---\nbody\n",
		"2000-level YAML list":     nestedYAML(2000),
		"2000-level Markdown list": nestedList(2000),
		"100k-deep blockquote":     post("Quote", strings.Repeat(">", 100000)+" deep\n"),
	}
}

func TestHostilePosts(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	i := 0
	for name, text := range hostilePosts() {
		i++
		files[name] = writeFile(t, dir, fmt.Sprintf("2024-01-%02d-hostile.md", i), text, oldTime)
	}
	writeFile(t, dir, "2024-02-01-fine.md", post("Fine", "fine\n"), oldTime)
	l := NewLoader(loaderSite(t, "UTC", ""), dir, nil)
	l.SetLimits(&PostsConfig{MaxSize: 8 << 20})
	snap := scan(t, l)
	byFile := map[string]*Post{}
	for _, p := range snap.Posts {
		byFile[p.File] = p
	}
	problem := func(name string) string {
		for _, p := range snap.Problems {
			if p.File == files[name] {
				return p.Error()
			}
		}
		return ""
	}
	for _, name := range []string{"20k keys", "100k keys", "100k keys, not fast path"} {
		if p := byFile[files[name]]; p == nil || p.Title != "Many keys" {
			t.Errorf("%s: not read (%s)", name, problem(name))
		}
	}
	if got := problem("5 MB title"); !strings.Contains(got, ":2: title: 5242879 characters long, more than 1000") {
		t.Errorf("5 MB title: problem %q", got)
	}
	if p := byFile[files["2000-level YAML list"]]; p == nil || len(p.Tags) != 0 {
		t.Errorf("2000-level YAML list: want the post without tags (%s)", problem("2000-level YAML list"))
	}
	ctx := context.Background()
	for name, line := range map[string]int{"2000-level Markdown list": 70, "100k-deep blockquote": 4} {
		p := byFile[files[name]]
		if p == nil {
			t.Errorf("%s: not scanned: %s", name, problem(name))
			continue
		}
		_, err := l.Render(ctx, p)
		want := fmt.Sprintf("%s:%d: blockquotes and lists nest", p.File, line)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Render = %v, want %q", name, err, want)
		}
		if probs := l.Check(ctx, p); len(probs) != 1 || !strings.Contains(probs[0].Msg, "nest") {
			t.Errorf("%s: Check = %v", name, probs)
		}
	}
}

func TestFrontMatterLinesAfterManyKeys(t *testing.T) {
	for _, brk := range []string{"", "\u2028"} {
		var b strings.Builder
		b.WriteString("---\ntitle: T\n")
		for i := range 50000 {
			fmt.Fprintf(&b, "k%d: v%s\n", i, brk)
		}
		b.WriteString("date: not a date\n---\n")
		_, err := parseText(t, "UTC", "2024-01-01-x.md", b.String())
		var perr *postError
		if !errors.As(err, &perr) || perr.line != 50003 || !strings.HasPrefix(perr.msg, "date:") {
			t.Errorf("break %q: err = %v, want line 50003: date: …", brk, err)
		}
	}
}

func TestCheckNesting(t *testing.T) {
	list := func(n int, indent string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(strings.Repeat(indent, i))
			b.WriteString("- x\n")
		}
		return b.String()
	}
	tests := []struct {
		name, src string
		line      int // 0: accepted
	}{
		{"plain", "a\n\nb\n", 0},
		{"ten-level list", list(10, "  "), 0},
		{"ten-level list, 4 spaces", list(10, "    "), 0},
		{"64 levels", list(64, "  "), 0},
		{"65 levels", list(65, "  "), 65 + 9},
		{"quotes", strings.Repeat("> ", 64) + "x\n", 0},
		{"too many quotes", strings.Repeat("> ", 65) + "x\n", 10},
		{"compact list", strings.Repeat("- ", 70) + "x\n", 10},
		{"fenced code is skipped", "```\n" + list(100, "  ") + "```\n", 0},
		{"ordered", strings.Repeat("1. ", 70) + "x\n", 10},
		{"deep indented code", strings.Repeat(" ", 300) + "code\n", 0},
		{"dashes that are not markers", strings.Repeat("-", 300) + "\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			perr := checkNesting([]byte(tt.src), 10)
			got := 0
			if perr != nil {
				got = perr.line
			}
			if got != tt.line {
				t.Errorf("line %d (%v), want %d", got, perr, tt.line)
			}
		})
	}
}

func TestRenderDeadline(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "2024-01-01-a.md", post("A", "a\n"), oldTime)
	writeFile(t, dir, "2024-01-03-c.md", post("C", "c\n"), oldTime)
	// About a second of goldmark: 600 lists nested 64 deep.
	var slow strings.Builder
	for range 600 {
		for i := range 64 {
			slow.WriteString(strings.Repeat("  ", i))
			slow.WriteString("- x\n")
		}
		slow.WriteString("\nend\n\n")
	}
	writeFile(t, dir, "2024-01-02-slow.md", post("Slow", slow.String()), oldTime)
	l := NewLoader(loaderSite(t, "UTC", ""), dir, nil)
	l.SetLimits(&PostsConfig{RenderTimeout: Duration{100 * time.Millisecond}})
	snap := scan(t, l)
	cfg := &FeedsConfig{Limit: 20, FullContent: true, URL: "https://example.com/blog"}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	out, err := Generate(context.Background(), l, l.site(), cfg, snap, now)
	if !errors.Is(err, ErrRenderTimeout) || !strings.Contains(err.Error(), "2024-01-02-slow.md") {
		t.Fatalf("Generate error = %v, want the slow post's render timeout", err)
	}
	rss, _ := out.File(RSSName)
	if !strings.Contains(string(rss.Data), "<title>A</title>") || !strings.Contains(string(rss.Data), "<title>C</title>") ||
		strings.Contains(string(rss.Data), "<title>Slow</title>") {
		t.Errorf("the feed must hold A and C but not the slow post yet:\n%.2000s", rss.Data)
	}
	// The rendering went on: once done, the post is in the next feeds.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err = Generate(context.Background(), l, l.site(), cfg, snap, now)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrRenderTimeout) || time.Now().After(deadline) {
			t.Fatalf("Generate = %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rss, _ = out.File(RSSName); !strings.Contains(string(rss.Data), "<title>Slow</title>") {
		t.Error("the slow post is not in the feeds once rendered")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]Size{"4MB": 4 << 20, "100KB": 100 << 10, "100 kb": 100 << 10, "512B": 512, "1048576": 1 << 20, "2GiB": 2 << 30, "1k": 1024} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "4TB", "-1MB", "4.5MB", "99999999999999999GB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
	if s := Size(4 << 20).String(); s != "4MB" {
		t.Errorf("String = %q", s)
	}
}

func BenchmarkHostilePosts(b *testing.B) {
	pp := newPostParser(loaderSite(b, "UTC", ""))
	r := newRenderer(loaderSite(b, "UTC", ""))
	for name, text := range hostilePosts() {
		b.Run(name, func(b *testing.B) {
			data := []byte(text)
			for b.Loop() {
				res, err := pp.parse("2024-01-01-x.md", data)
				if err != nil {
					continue
				}
				_, body, line, _ := splitFrontMatter(data)
				if perr := checkNesting(body, line); perr == nil {
					r.render(&renderInput{Src: body, File: "x", Line: line, PostURL: res.post.URL})
				}
			}
		})
	}
}
