package feed

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// seedPost is /work/shared/seed-post.md, the real-world post every part of
// Herald must handle.
//
//go:embed testdata/seed-post.md
var seedPost []byte

// benchTags are the tags generated posts draw from.
var benchTags = []string{"Career", "Data", "Engineering", "Go", "Machine Learning", "SQL",
	"Feeds", "Jekyll", "Writing", "Ops", "Startups", "Statistics"}

// benchWords make generated titles differ.
var benchWords = []string{"Finishing", "Starting", "Rethinking", "Measuring", "Shipping", "Debugging",
	"my", "our", "the", "a", "Data", "Career", "Pipeline", "Masterplan", "Model", "Team", "Roadmap", "Feed"}

// Shape of writeBenchPosts' output, for callers that count.
const (
	benchFutureEvery = 500 // posts i with i%500 == 499 are dated in 2090 and later
	benchDraftEvery  = 250 // posts i with i%250 == 124 have published: false
)

// benchPostMtime is the modification time of every generated file: fixed,
// and old enough for the loader's cache to trust it.
var benchPostMtime = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// writeBenchPosts writes n posts of the seed post's size and shape into dir,
// deterministically: post i has the seed's front-matter keys (layout, title,
// date, description, tags) with its own title, date and tags, and the
// seed's body (TOC, Liquid figures, <style>, TLDR) preceded by one line
// naming it, so that no two bodies are equal. Dates are spread over the ten
// years before 2025-01-01, hours apart; every 500th post (i%500 == 499) is
// dated in the future (2090 on), every 250th (i%250 == 124) is unpublished;
// a third of the dates carry an offset and a third of the posts list their
// tags as a space-separated string. Every file's mtime is benchPostMtime.
func writeBenchPosts(tb testing.TB, dir string, n int) {
	tb.Helper()
	_, body, _, perr := splitFrontMatter(seedPost)
	if perr != nil {
		tb.Fatalf("seed post: %v", perr)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	start := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	span := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Sub(start)
	step := span / time.Duration(max(n, 1))
	var buf bytes.Buffer
	for i := range n {
		date := start.Add(time.Duration(i) * step).Truncate(time.Minute)
		if i%benchFutureEvery == benchFutureEvery-1 {
			date = time.Date(2090+i/benchFutureEvery, 1, 1, 9, 0, 0, 0, time.UTC)
		}
		words := []string{
			benchWords[i%6], benchWords[6+i/6%4], benchWords[10+i/24%8], benchWords[10+i/192%8],
		}
		title := fmt.Sprintf("%s %s %s %s, part %d", words[0], words[1], words[2], words[3], i)
		slug := strings.ToLower(strings.Join(words, "-")) + fmt.Sprintf("-%05d", i)
		tags := []string{benchTags[i%len(benchTags)]}
		if i%3 != 0 {
			tags = append(tags, benchTags[(i/3+5)%len(benchTags)])
		}

		buf.Reset()
		buf.WriteString("---\nlayout: post\n")
		fmt.Fprintf(&buf, "title: %q\n", title)
		switch i % 3 {
		case 0:
			fmt.Fprintf(&buf, "date: %s\n", date.Format("2006-01-02 15:04:05"))
		case 1:
			fmt.Fprintf(&buf, "date: %s\n", date.Format("2006-01-02 15:04:05 -0700"))
		default:
			fmt.Fprintf(&buf, "date: %s\n", date.Format(time.RFC3339))
		}
		fmt.Fprintf(&buf, "description: Thoughts number %d after being a D. Engineer, D. Scientist, and ML Engineer\n", i)
		if i%3 == 2 {
			fmt.Fprintf(&buf, "tags: %s\n", strings.ReplaceAll(strings.Join(tags, " "), "Machine Learning", "ML"))
		} else {
			fmt.Fprintf(&buf, "tags: ['%s']\n", strings.Join(tags, "', '"))
		}
		if i%benchDraftEvery == benchDraftEvery/2-1 {
			buf.WriteString("published: false\n")
		}
		buf.WriteString("---\n")
		fmt.Fprintf(&buf, "*Post %d of the generated set: %s.*\n\n", i, title)
		buf.Write(body)

		file := filepath.Join(dir, date.Format("2006-01-02")+"-"+slug+".md")
		if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chtimes(file, benchPostMtime, benchPostMtime); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestWriteBenchPosts(t *testing.T) {
	dir := t.TempDir()
	const n = 500
	writeBenchPosts(t, dir, n)
	l := NewLoader(loaderSite(t, "UTC", ""), dir, nil)
	snap := scan(t, l)
	if len(snap.Posts) != n || len(snap.Problems) != 0 {
		t.Fatalf("%d posts, problems %v; want %d posts and no problem", len(snap.Posts), snap.Problems, n)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var future, unpublished int
	var size int64
	for _, p := range snap.Posts {
		if p.Date.After(now) {
			future++
		}
		if !p.Published {
			unpublished++
		}
		size += p.Size
	}
	if future != n/benchFutureEvery || unpublished != n/benchDraftEvery {
		t.Errorf("future = %d, unpublished = %d; want %d, %d", future, unpublished, n/benchFutureEvery, n/benchDraftEvery)
	}
	if avg, seed := size/n, int64(len(seedPost)); avg < seed || avg > seed+400 {
		t.Errorf("average size %d, want about the seed post's %d", avg, seed)
	}
	if oldest := snap.Posts[len(snap.Posts)-1].Date; oldest.Year() != 2015 {
		t.Errorf("oldest post %v, want 2015", oldest)
	}
	// Deterministic: a second run writes the same bytes.
	dir2 := t.TempDir()
	writeBenchPosts(t, dir2, n)
	snap2 := scan(t, NewLoader(loaderSite(t, "UTC", ""), dir2, nil))
	for i := range snap.Posts {
		if snap.Posts[i].Hash != snap2.Posts[i].Hash || snap.Posts[i].Path != snap2.Posts[i].Path {
			t.Fatalf("post %d differs between runs", i)
		}
	}
}
