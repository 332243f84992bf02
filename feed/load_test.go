package feed

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// oldTime is the mtime test files get: far enough in the past for the
// loader's cache to trust it.
var oldTime = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// copyTree copies the folder src into dst, giving every file oldTime as its
// mtime.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			return err
		}
		return os.Chtimes(target, oldTime, oldTime)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writeFile writes a file under dir with the given mtime (zero: now).
func writeFile(t testing.TB, dir, rel, text string, mtime time.Time) string {
	t.Helper()
	file := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(file, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return file
}

// loadFixture copies testdata/load into a temporary folder and returns a
// loader of it for a Europe/Berlin site.
func loadFixture(t *testing.T) (*Loader, string) {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, "testdata/load", dir)
	return NewLoader(loaderSite(t, "Europe/Berlin", ""), dir, nil), dir
}

func scan(t testing.TB, l *Loader) *Snapshot {
	t.Helper()
	snap, err := l.Scan(context.Background())
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return snap
}

func TestScanFixture(t *testing.T) {
	l, dir := loadFixture(t)
	snap := scan(t, l)

	type row struct {
		path, url, date string
		published       bool
	}
	const base = "https://example.com/blog"
	want := []row{
		{"2099-01-01-from-the-future.md", base + "/2099/01/01/from-the-future/", "2099-01-01T00:00:00+01:00", true},
		{"2024-09-03-same-url-own-id.md", base + "/same/", "2024-09-03T00:00:00+02:00", true},
		{"2024-09-01-same-url-a.md", base + "/same/", "2024-09-01T00:00:00+02:00", true},
		{"2024-08-01-bom-and-crlf.md", base + "/2024/08/01/bom-and-crlf/", "2024-08-01T00:00:00+02:00", true},
		{"2024-07-04-no-title.md", base + "/2024/07/04/no-title/", "2024-07-04T00:00:00+02:00", true},
		{"2024-06-08-draft-flag.md", base + "/2024/06/08/draft-flag/", "2024-06-08T00:00:00+02:00", false},
		{"2024-06-07-unpublished.md", base + "/2024/06/07/unpublished/", "2024-06-07T00:00:00+02:00", false},
		{"2024-03-31-dst-gap.md", base + "/2024/03/31/dst-gap/", "2024-03-31T03:30:00+02:00", true},
		{"blog/_posts/2024-03-04-jekyll-layout.md", base + "/2024/03/04/jekyll-layout/", "2024-03-04T08:00:00+01:00", true},
		{"2024/2024-02-03-in-a-subfolder.md", base + "/2024/02/03/in-a-subfolder/", "2024-02-03T00:00:00+01:00", true},
		{"2024-01-02-offset-and-tags.markdown", base + "/2024/01/02/offset-and-tags/", "2024-01-02T16:00:00+01:00", true},
		{"2023-10-06-finishing-my-data-career-masterplan.md", base + "/2023/10/06/finishing-my-data-career-masterplan/", "2023-10-06T04:00:00+02:00", true},
	}
	var got []row
	for _, p := range snap.Posts {
		got = append(got, row{p.Path, p.URL, p.Date.Format(time.RFC3339), p.Published})
	}
	if !slices.Equal(got, want) {
		t.Errorf("posts:\n%s\nwant:\n%s", fmt.Sprint(got), fmt.Sprint(want))
	}

	type prob struct {
		file    string
		line    int
		msg     string // prefix
		warning bool
	}
	f := func(rel string) string { return filepath.Join(dir, filepath.FromSlash(rel)) }
	wantProblems := []prob{
		{f("2024-03-31-dst-gap.md"), 3, "date: 2024-03-31 02:30:00 does not exist in Europe/Berlin", true},
		{f("2024-07-01-broken-yaml.md"), 4, "front matter: invalid YAML: did not find expected ',' or ']'", false},
		{f("2024-07-02-bad-date.md"), 4, `date: bad date "2024-02-30 10:00:00": day 30 out of range`, false},
		{f("2024-07-03-invalid-utf8.md"), 5, "invalid UTF-8: byte 0xE9 at column 12", false},
		{f("2024-07-05-no-front-matter.md"), 1, "no front matter", false},
		{f("2024-09-02-same-url-b.md"), 3, "URL (its id) https://example.com/blog/same/ is already used by " + f("2024-09-01-same-url-a.md") + "; post skipped", false},
		{f("2024-09-03-same-url-own-id.md"), 4, "URL https://example.com/blog/same/ is already used by " + f("2024-09-01-same-url-a.md"), true},
	}
	if len(snap.Problems) != len(wantProblems) {
		t.Errorf("got %d problems, want %d:", len(snap.Problems), len(wantProblems))
	}
	for i, p := range snap.Problems {
		t.Logf("problem: %v (warning %v)", p, p.Warning)
		if i >= len(wantProblems) {
			continue
		}
		w := wantProblems[i]
		if p.File != w.file || p.Line != w.line || !strings.HasPrefix(p.Msg, w.msg) || p.Warning != w.warning {
			t.Errorf("problem %d = %s:%d: %q (warning %v), want %s:%d: %q… (warning %v)",
				i, p.File, p.Line, p.Msg, p.Warning, w.file, w.line, w.msg, w.warning)
		}
	}
	if got := snap.Problems[1].Error(); !strings.HasPrefix(got, f("2024-07-01-broken-yaml.md")+":4: front matter: invalid YAML") {
		t.Errorf("Problem.Error() = %q, want file:line: message", got)
	}

	// Metadata of single posts.
	byPath := map[string]*Post{}
	for _, p := range snap.Posts {
		byPath[p.Path] = p
	}
	seed := byPath["2023-10-06-finishing-my-data-career-masterplan.md"]
	data, err := os.ReadFile("testdata/seed-post.md")
	if err != nil {
		t.Fatal(err)
	}
	if seed.Size != int64(len(data)) || seed.BodyLine != 8 || len(seed.Hash) != 64 ||
		seed.File != f("2023-10-06-finishing-my-data-career-masterplan.md") || !seed.ModTime.Equal(oldTime) {
		t.Errorf("seed post: Size %d, BodyLine %d, Hash %q, File %q, ModTime %v", seed.Size, seed.BodyLine, seed.Hash, seed.File, seed.ModTime)
	}
	if p := byPath["blog/_posts/2024-03-04-jekyll-layout.md"]; !slices.Equal(p.Categories, []string{"blog"}) {
		t.Errorf("jekyll-layout categories = %q, want [blog]", p.Categories)
	}
	if p := byPath["2024-01-02-offset-and-tags.markdown"]; !slices.Equal(p.Tags, []string{"go", "feeds"}) || p.Name != "2024-01-02-offset-and-tags" {
		t.Errorf("offset-and-tags: Tags %q, Name %q", p.Tags, p.Name)
	}
	if p := byPath["2024-08-01-bom-and-crlf.md"]; p.Title != "BOM and CRLF" || !slices.Equal(p.Tags, []string{"windows"}) || p.BodyLine != 6 {
		t.Errorf("bom-and-crlf: Title %q, Tags %q, BodyLine %d", p.Title, p.Tags, p.BodyLine)
	}
	if p := byPath["2024-09-03-same-url-own-id.md"]; p.ID != "urn:example:own" {
		t.Errorf("own-id: ID = %q", p.ID)
	}
}

func TestScanCache(t *testing.T) {
	dir := t.TempDir()
	post := func(title string) string { return "---\ntitle: " + title + "\n---\nBody.\n" }
	writeFile(t, dir, "2024-01-01-a.md", post("Alpha"), oldTime)
	bFile := writeFile(t, dir, "2024-01-02-b.md", post("Bravo"), oldTime)
	writeFile(t, dir, "sub/2024-01-03-c.md", post("Charlie"), oldTime)
	l := NewLoader(loaderSite(t, "UTC", ""), dir, nil)

	titles := func(s *Snapshot) string {
		var out []string
		for _, p := range s.Posts {
			out = append(out, p.Title)
		}
		return strings.Join(out, ",")
	}
	first := scan(t, l)
	if got := l.reads.Load(); got != 3 {
		t.Fatalf("first scan read %d files, want 3", got)
	}
	second := scan(t, l)
	if got := l.reads.Load(); got != 3 {
		t.Errorf("rescan read %d more files, want 0", got-3)
	}
	for i := range first.Posts {
		if first.Posts[i] != second.Posts[i] {
			t.Errorf("post %d not reused from the cache", i)
		}
	}

	// Same size and mtime, other bytes: the cache trusts size+mtime, so the
	// old title stays (proof that the file is not read again).
	writeFile(t, dir, "2024-01-02-b.md", post("Bxxxx"), oldTime)
	if got := titles(scan(t, l)); got != "Charlie,Bravo,Alpha" {
		t.Errorf("titles after a same-size same-mtime edit = %s, want the cached Bravo", got)
	}
	if got := l.reads.Load(); got != 3 {
		t.Errorf("read %d files, want 3", got)
	}

	// A new mtime: read again, only that file.
	if err := os.Chtimes(bFile, oldTime.Add(time.Hour), oldTime.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := titles(scan(t, l)); got != "Charlie,Bxxxx,Alpha" {
		t.Errorf("titles after touching = %s", got)
	}
	if got := l.reads.Load(); got != 4 {
		t.Errorf("read %d files, want 4", got)
	}

	// A new size with the same mtime: read again.
	writeFile(t, dir, "2024-01-02-b.md", post("Bravo two"), oldTime.Add(time.Hour))
	if got := titles(scan(t, l)); got != "Charlie,Bravo two,Alpha" {
		t.Errorf("titles after resizing = %s", got)
	}

	// Deleted and added files.
	if err := os.Remove(filepath.Join(dir, "2024-01-01-a.md")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "2024-01-04-d.md", post("Delta"), oldTime)
	if got := titles(scan(t, l)); got != "Delta,Charlie,Bravo two" {
		t.Errorf("titles after delete and add = %s", got)
	}
	if len(l.cache) != 3 {
		t.Errorf("cache holds %d entries, want 3 (deleted files dropped)", len(l.cache))
	}

	// A file that becomes broken is reported, and fixed again.
	writeFile(t, dir, "2024-01-04-d.md", "---\ntitle: [\n---\n", oldTime.Add(2*time.Hour))
	s := scan(t, l)
	if got := titles(s); got != "Charlie,Bravo two" || len(s.Problems) != 1 {
		t.Errorf("titles = %s, problems = %v", got, s.Problems)
	}
	s = scan(t, l) // the problem is cached too
	if len(s.Problems) != 1 {
		t.Errorf("rescan problems = %v, want the cached one", s.Problems)
	}
}

func TestScanRacyFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "2024-01-01-a.md", "---\ntitle: A\n---\n", time.Time{}) // mtime: now
	l := NewLoader(loaderSite(t, "UTC", ""), dir, nil)
	scan(t, l)
	scan(t, l)
	if got := l.reads.Load(); got != 2 {
		t.Errorf("a file modified just now was read %d times in two scans, want 2 (its mtime is not trusted yet)", got)
	}
	if err := os.Chtimes(filepath.Join(dir, "2024-01-01-a.md"), oldTime, oldTime); err != nil {
		t.Fatal(err)
	}
	scan(t, l)
	scan(t, l)
	if got := l.reads.Load(); got != 3 {
		t.Errorf("read %d times, want 3 (an old mtime is trusted)", got)
	}
}

func TestScanErrors(t *testing.T) {
	site := loaderSite(t, "UTC", "")
	if _, err := NewLoader(site, filepath.Join(t.TempDir(), "missing"), nil).Scan(context.Background()); err == nil ||
		!errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "feed: posts folder") {
		t.Errorf("Scan of a missing folder = %v, want a feed: posts folder error wrapping fs.ErrNotExist", err)
	}
	file := writeFile(t, t.TempDir(), "x.md", "x", time.Time{})
	if _, err := NewLoader(site, file, nil).Scan(context.Background()); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("Scan of a file = %v, want a not-a-folder error", err)
	}
	dir := t.TempDir()
	writeFile(t, dir, "2024-01-01-a.md", "---\ntitle: A\n---\n", oldTime)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewLoader(site, dir, nil).Scan(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Scan with a cancelled context = %v, want context.Canceled", err)
	}
	// An empty folder is not an error.
	snap, err := NewLoader(site, t.TempDir(), nil).Scan(context.Background())
	if err != nil || len(snap.Posts) != 0 || len(snap.Problems) != 0 {
		t.Errorf("Scan of an empty folder = %+v, %v", snap, err)
	}
}

func TestScanPostsFolderNamedLikeSkippedOnes(t *testing.T) {
	// The posts folder itself may be "_posts" or a dot folder: only folders
	// inside it are skipped.
	for _, name := range []string{"_posts", ".posts", "_site"} {
		dir := filepath.Join(t.TempDir(), name)
		writeFile(t, dir, "2024-01-01-a.md", "---\ntitle: A\n---\n", oldTime)
		snap := scan(t, NewLoader(loaderSite(t, "UTC", ""), dir, nil))
		if len(snap.Posts) != 1 {
			t.Errorf("posts folder %s: %d posts, want 1", name, len(snap.Posts))
		}
	}
}

func TestScanSymlink(t *testing.T) {
	dir := t.TempDir()
	target := writeFile(t, t.TempDir(), "elsewhere.md", "---\ntitle: Linked\n---\n", oldTime)
	if err := os.Symlink(target, filepath.Join(dir, "2024-01-01-linked.md")); err != nil {
		t.Skip("no symlinks:", err)
	}
	snap := scan(t, NewLoader(loaderSite(t, "UTC", ""), dir, nil))
	if len(snap.Posts) != 1 || snap.Posts[0].Title != "Linked" {
		t.Errorf("posts = %v, want the symlinked post", snap.Posts)
	}
}

func TestScanSortsByDateThenPath(t *testing.T) {
	dir := t.TempDir()
	for _, rel := range []string{"b/2024-01-01-x.md", "a/2024-01-01-x.md", "2024-01-01-x.md", "2023-12-31-y.md", "2024-01-02-z.md"} {
		writeFile(t, dir, rel, "---\ntitle: T\nid: "+rel+"\n---\n", oldTime)
	}
	snap := scan(t, NewLoader(loaderSite(t, "UTC", ""), dir, nil))
	var got []string
	for _, p := range snap.Posts {
		got = append(got, p.Path)
	}
	want := []string{"2024-01-02-z.md", "2024-01-01-x.md", "a/2024-01-01-x.md", "b/2024-01-01-x.md", "2023-12-31-y.md"}
	if !slices.Equal(got, want) {
		t.Errorf("order = %q, want %q", got, want)
	}
	// Distinct ids, same URL: warnings only.
	for _, p := range snap.Problems {
		if !p.Warning {
			t.Errorf("unexpected error %v", p)
		}
	}
}

func TestFind(t *testing.T) {
	l, dir := loadFixture(t)
	snap := scan(t, l)
	tests := []struct {
		q, wantPath string
	}{
		{"2023-10-06-finishing-my-data-career-masterplan", "2023-10-06-finishing-my-data-career-masterplan.md"},
		{"2023-10-06-finishing-my-data-career-masterplan.md", "2023-10-06-finishing-my-data-career-masterplan.md"},
		{"finishing-my-data-career-masterplan", "2023-10-06-finishing-my-data-career-masterplan.md"},
		{" in-a-subfolder ", "2024/2024-02-03-in-a-subfolder.md"},
		{"2024/2024-02-03-in-a-subfolder.md", "2024/2024-02-03-in-a-subfolder.md"},
		{"2024-02-03-in-a-subfolder.md", "2024/2024-02-03-in-a-subfolder.md"},
		{filepath.Join(dir, "2024", "2024-02-03-in-a-subfolder.md"), "2024/2024-02-03-in-a-subfolder.md"},
		{"posts/2024-01-02-offset-and-tags.markdown", "2024-01-02-offset-and-tags.markdown"},
		{"2024-01-02-offset-and-tags", "2024-01-02-offset-and-tags.markdown"},
		{"unpublished", "2024-06-07-unpublished.md"},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			p, err := l.Find(snap, tt.q)
			if err != nil {
				t.Fatalf("Find(%q): %v", tt.q, err)
			}
			if p.Path != tt.wantPath {
				t.Errorf("Find(%q) = %s, want %s", tt.q, p.Path, tt.wantPath)
			}
		})
	}
	for _, q := range []string{"nope", "", "a-draft"} {
		if p, err := l.Find(snap, q); !errors.Is(err, ErrNotFound) || p != nil {
			t.Errorf("Find(%q) = %v, %v, want ErrNotFound", q, p, err)
		}
	}
	if _, err := l.Find(nil, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Find(nil snapshot) = %v, want ErrNotFound", err)
	}

	// A slug shared by two posts is ambiguous.
	dir2 := t.TempDir()
	writeFile(t, dir2, "2024-01-01-same.md", "---\ntitle: A\n---\n", oldTime)
	writeFile(t, dir2, "2024-02-01-same.md", "---\ntitle: B\n---\n", oldTime)
	l2 := NewLoader(loaderSite(t, "UTC", ""), dir2, nil)
	snap2 := scan(t, l2)
	if _, err := l2.Find(snap2, "same"); err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "2 posts") {
		t.Errorf("Find(ambiguous slug) = %v, want an ambiguity error", err)
	}
	if p, err := l2.Find(snap2, "2024-02-01-same"); err != nil || p.Title != "B" {
		t.Errorf("Find(name) = %v, %v", p, err)
	}
}

func TestBody(t *testing.T) {
	l, dir := loadFixture(t)
	snap := scan(t, l)
	ctx := context.Background()
	find := func(name string) *Post {
		t.Helper()
		p, err := l.Find(snap, name)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	seed := find("2023-10-06-finishing-my-data-career-masterplan")
	src, line, err := l.body(ctx, seed)
	if err != nil {
		t.Fatal(err)
	}
	if line != 8 || !strings.HasPrefix(string(src), "- [1. Introduction](#1-introduction)\n") || !strings.HasSuffix(string(src), "data-driven age.") {
		t.Errorf("seed body: line %d, starts %q", line, src[:min(40, len(src))])
	}

	crlf := find("2024-08-01-bom-and-crlf")
	src, line, err = l.body(ctx, crlf)
	if err != nil {
		t.Fatal(err)
	}
	if line != 6 || string(src) != "Line one.\nLine two.\n" {
		t.Errorf("CRLF body: line %d, %q", line, src)
	}

	empty := find("2099-01-01-from-the-future")
	src, line, err = l.body(ctx, empty)
	if err != nil || len(src) != 0 || line != 4 {
		t.Errorf("empty body = %q, %d, %v", src, line, err)
	}

	// A file changed after the scan is refused.
	writeFile(t, dir, "2024/2024-02-03-in-a-subfolder.md", "---\ntitle: Changed\n---\n", oldTime)
	if _, _, err := l.body(ctx, find("in-a-subfolder")); err == nil || !strings.Contains(err.Error(), "changed since scan") {
		t.Errorf("body of a changed file = %v, want a changed-since-scan error", err)
	}
	if err := os.Remove(filepath.Join(dir, "2099-01-01-from-the-future.md")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.body(ctx, empty); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("body of a deleted file = %v, want fs.ErrNotExist", err)
	}
}

func TestResolve(t *testing.T) {
	l, _ := loadFixture(t)
	if got, ok := l.resolve("post_url", "2024-02-03-in-a-subfolder"); ok || got != "" {
		t.Errorf("resolve before any scan = %q, %v, want not found", got, ok)
	}
	scan(t, l)
	const base = "https://example.com/blog"
	tests := []struct {
		kind, arg, want string
		ok              bool
	}{
		{"post_url", "2024-02-03-in-a-subfolder", base + "/2024/02/03/in-a-subfolder/", true},
		{"post_url", " 2024/2024-02-03-in-a-subfolder ", base + "/2024/02/03/in-a-subfolder/", true},
		{"post_url", "/2024-02-03-in-a-subfolder.md", base + "/2024/02/03/in-a-subfolder/", true},
		{"post_url", "2024-01-02-offset-and-tags", base + "/2024/01/02/offset-and-tags/", true},
		{"post_url", "2024-06-07-unpublished", base + "/2024/06/07/unpublished/", true},
		{"post_url", "2010-07-21-missing", "", false},
		{"post_url", "2024-07-01-broken-yaml", "", false},
		{"link", "_posts/2024/2024-02-03-in-a-subfolder.md", base + "/2024/02/03/in-a-subfolder/", true},
		{"link", "/blog/_posts/2024-03-04-jekyll-layout.md", base + "/2024/03/04/jekyll-layout/", true},
		{"link", "2023-10-06-finishing-my-data-career-masterplan.md", base + "/2023/10/06/finishing-my-data-career-masterplan/", true},
		{"link", "_posts/2023-10-06-finishing-my-data-career-masterplan.md", base + "/2023/10/06/finishing-my-data-career-masterplan/", true},
		{"link", "about.md", base + "/about.md", false},
		{"link", "/assets/cv.pdf", base + "/assets/cv.pdf", false},
		{"other", "x", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.arg, func(t *testing.T) {
			got, ok := l.resolve(tt.kind, tt.arg)
			if got != tt.want || ok != tt.ok {
				t.Errorf("resolve(%q, %q) = %q, %v, want %q, %v", tt.kind, tt.arg, got, ok, tt.want, tt.ok)
			}
		})
	}
	if l.site().URL != "https://example.com" {
		t.Errorf("site() = %+v", l.site())
	}
}

func TestResolveSameNameInTwoFolders(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a/2024-01-01-x.md", "---\ntitle: A\npermalink: /a/\n---\n", oldTime)
	writeFile(t, dir, "b/2024-01-01-x.md", "---\ntitle: B\npermalink: /b/\n---\n", oldTime)
	l := NewLoader(loaderSite(t, "UTC", ""), dir, nil)
	scan(t, l)
	for arg, want := range map[string]string{"a/2024-01-01-x": "/a/", "b/2024-01-01-x": "/b/", "2024-01-01-x": "/a/"} {
		if got, ok := l.resolve("post_url", arg); !ok || got != "https://example.com/blog"+want {
			t.Errorf("resolve(post_url, %q) = %q, %v, want …%s", arg, got, ok, want)
		}
	}
}

func TestScanConcurrentUse(t *testing.T) {
	l, _ := loadFixture(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				snap, err := l.Scan(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				l.resolve("post_url", "2024-02-03-in-a-subfolder")
				if _, err := l.Find(snap, "in-a-subfolder"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}
