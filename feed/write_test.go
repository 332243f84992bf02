package feed

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// setMtime moves a file's mtime into the past so that a rewrite is visible.
func setMtime(t *testing.T, path string, mt time.Time) {
	t.Helper()
	if err := os.Chtimes(path, mt, mt); err != nil {
		t.Fatal(err)
	}
}

func mtime(t *testing.T, path string) time.Time {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.ModTime()
}

// listFiles returns every file under dir, slash-separated and sorted.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestWriteDir(t *testing.T) {
	ctx := context.Background()
	site := testSite(t)
	cfg := testFeeds()
	cfg.Tags = true
	dir := filepath.Join(t.TempDir(), "public", "nested") // created by WriteDir
	out := build(t, site, cfg, testEntries(t))

	changed, err := WriteDir(ctx, dir, out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := changed, fileNames(out); !slices.Equal(got, want) {
		t.Fatalf("first write changed %v, want %v", got, want)
	}
	if got, want := listFiles(t, dir), fileNames(out); !slices.Equal(got, want) {
		t.Fatalf("files on disk %v, want %v (no temp files)", got, want)
	}
	for _, f := range out.Files {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Name)))
		if err != nil || string(data) != string(f.Data) {
			t.Fatalf("%s: bytes on disk differ (err %v)", f.Name, err)
		}
		st, _ := os.Stat(filepath.Join(dir, filepath.FromSlash(f.Name)))
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", f.Name, st.Mode().Perm())
		}
	}

	// Same output again: nothing written, mtimes kept.
	past := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, f := range out.Files {
		setMtime(t, filepath.Join(dir, filepath.FromSlash(f.Name)), past)
	}
	changed, err = WriteDir(ctx, dir, build(t, site, cfg, testEntries(t)))
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 0 {
		t.Errorf("unchanged output rewrote %v", changed)
	}
	for _, f := range out.Files {
		if got := mtime(t, filepath.Join(dir, filepath.FromSlash(f.Name))); !got.Equal(past) {
			t.Errorf("%s: mtime changed to %v", f.Name, got)
		}
	}

	// Drop the "Go" post: the main feeds change, the go and web-dev tag
	// feeds disappear, the other tags' files stay untouched.
	entries := testEntries(t)
	entries = slices.Delete(entries, 1, 2)
	out2 := build(t, site, cfg, entries)
	changed, err = WriteDir(ctx, dir, out2)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"atom.xml", "feed.json", "feed.xml",
		"tags/go/atom.xml", "tags/go/feed.json", "tags/go/feed.xml",
		"tags/web-dev/atom.xml", "tags/web-dev/feed.json", "tags/web-dev/feed.xml"}
	if !slices.Equal(changed, want) {
		t.Errorf("changed = %v, want %v", changed, want)
	}
	if got := listFiles(t, dir); !slices.Equal(got, fileNames(out2)) {
		t.Errorf("files on disk %v, want %v", got, fileNames(out2))
	}
	for _, gone := range []string{"tags/go", "tags/web-dev"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !os.IsNotExist(err) {
			t.Errorf("%s still exists (err %v)", gone, err)
		}
	}
	if got := mtime(t, filepath.Join(dir, "tags", "career", "feed.xml")); !got.Equal(past) {
		t.Errorf("untouched tag feed rewritten")
	}
	if got := mtime(t, filepath.Join(dir, "feed.xml")); got.Equal(past) {
		t.Errorf("changed feed.xml kept its old mtime")
	}
	data, _ := os.ReadFile(filepath.Join(dir, "feed.xml"))
	if strings.Contains(string(data), "Writing Feeds in Go") {
		t.Errorf("feed.xml not replaced")
	}
}

func TestWriteDirKeepsForeignFiles(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"index.html", "tags/go/index.html", "tags/old/notes.txt"} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "tags", "old", "feed.xml"), []byte("stale"), 0o644)
	out := build(t, testSite(t), testFeeds(), testEntries(t))
	changed, err := WriteDir(context.Background(), dir, out)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(changed, "tags/old/feed.xml") {
		t.Errorf("changed = %v, want the stale tags/old/feed.xml removed", changed)
	}
	want := []string{"atom.xml", "feed.json", "feed.xml", "index.html", "tags/go/index.html", "tags/old/notes.txt"}
	if got := listFiles(t, dir); !slices.Equal(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
}

func TestWriteDirErrors(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"../evil.xml", "/abs.xml", "a/../../b.xml", ""} {
		out := &Output{Files: []File{{Name: name, Data: []byte("x")}}}
		if _, err := WriteDir(context.Background(), dir, out); err == nil {
			t.Errorf("name %q: no error", name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := WriteDir(ctx, dir, build(t, testSite(t), testFeeds(), testEntries(t))); err == nil {
		t.Error("cancelled context: no error")
	}
	// A folder where a file should go: an error naming the file.
	blocked := t.TempDir()
	os.Mkdir(filepath.Join(blocked, "feed.xml"), 0o755)
	_, err := WriteDir(context.Background(), blocked, build(t, testSite(t), testFeeds(), testEntries(t)))
	if err == nil || !strings.Contains(err.Error(), "feed.xml") {
		t.Errorf("err = %v, want one naming feed.xml", err)
	}
	if got := listFiles(t, blocked); !slices.Equal(got, []string{"atom.xml", "feed.json"}) {
		t.Errorf("files = %v: a temp file was left behind?", got)
	}
}
