package feed

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BuildDir writes exactly Build's bytes, for every kind of feed file.
func TestBuildDirMatchesBuild(t *testing.T) {
	site := testSite(t)
	jsite := *site
	jsite.Jekyll = "."
	configs := map[string]func(c *FeedsConfig){
		"default":      func(*FeedsConfig) {},
		"tags and hub": func(c *FeedsConfig) { c.Tags, c.Hub = true, "https://hub.example.com/" },
		"jekyll feeds": func(c *FeedsConfig) {
			c.IDs, c.Categories, c.ByTag = IDsJekyll, []string{"career"}, "feed/by_tag/"
		},
		"summary only, limit 2": func(c *FeedsConfig) { c.FullContent, c.Limit = false, 2 },
		"no JSON, all posts":    func(c *FeedsConfig) { c.JSON, c.RSS, c.Atom, c.Limit = "", "rss.xml", "feed.xml", 0 },
	}
	for name, mutate := range configs {
		t.Run(name, func(t *testing.T) {
			cfg := testFeeds()
			mutate(cfg)
			s := site
			if cfg.IDs == IDsJekyll {
				s = &jsite
			}
			out := build(t, s, cfg, testEntries(t))
			dir := filepath.Join(t.TempDir(), "public")
			files, changed, err := BuildDir(context.Background(), dir, s, cfg, testEntries(t))
			if err != nil {
				t.Fatal(err)
			}
			if want := fileNames(out); !slices.Equal(files, want) || !slices.Equal(changed, want) {
				t.Fatalf("files %v, changed %v; want %v for both", files, changed, want)
			}
			if got := listFiles(t, dir); !slices.Equal(got, fileNames(out)) {
				t.Fatalf("on disk %v, want %v (no temp files)", got, fileNames(out))
			}
			for _, f := range out.Files {
				data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Name)))
				if err != nil || !bytes.Equal(data, f.Data) {
					t.Errorf("%s: bytes on disk differ from Build's (err %v)", f.Name, err)
				}
			}
		})
	}
}

// BuildDir leaves unchanged files alone, replaces changed ones and removes
// the tag feeds no longer built, as WriteDir does.
func TestBuildDirRewrites(t *testing.T) {
	ctx := context.Background()
	site := testSite(t)
	cfg := testFeeds()
	cfg.Tags = true
	dir := t.TempDir()
	if _, _, err := BuildDir(ctx, dir, site, cfg, testEntries(t)); err != nil {
		t.Fatal(err)
	}
	out := build(t, site, cfg, testEntries(t))
	past := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	inodes := map[string]uint64{}
	for _, f := range out.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		setMtime(t, p, past)
		inodes[f.Name] = inode(t, p)
	}
	_, changed, err := BuildDir(ctx, dir, site, cfg, testEntries(t))
	if err != nil || len(changed) != 0 {
		t.Fatalf("unchanged output: changed %v, err %v", changed, err)
	}
	for _, f := range out.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if !mtime(t, p).Equal(past) || inode(t, p) != inodes[f.Name] {
			t.Errorf("%s: rewritten although unchanged", f.Name)
		}
	}

	entries := slices.Delete(testEntries(t), 1, 2) // the "Go" post
	out2 := build(t, site, cfg, entries)
	_, changed, err = BuildDir(ctx, dir, site, cfg, entries)
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
		t.Errorf("on disk %v, want %v", got, fileNames(out2))
	}
	for _, f := range out2.Files {
		data, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Name)))
		if !bytes.Equal(data, f.Data) {
			t.Errorf("%s: bytes on disk differ from Build's", f.Name)
		}
	}
	if got := mtime(t, filepath.Join(dir, "tags", "career", "feed.xml")); !got.Equal(past) {
		t.Error("untouched tag feed rewritten")
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Skip("no inode numbers here")
	}
	return st.Ino
}

// diffFile against every way the old file can differ from the new bytes,
// written in pieces of several sizes (smaller and larger than its compare
// buffer), with the new size unknown (BuildDir) or known (WriteDir).
func TestDiffFile(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 KB
	changedAt := func(i int) []byte {
		b := slices.Clone(big)
		b[i] = 'X'
		return b
	}
	tests := []struct {
		name     string
		old, new []byte // old nil: no file
	}{
		{"no old file", nil, big},
		{"no old file, empty", nil, []byte{}},
		{"equal", big, big},
		{"both empty", []byte{}, []byte{}},
		{"first byte differs", big, changedAt(0)},
		{"differs past the compare buffer", big, changedAt(200000)},
		{"last byte differs", big, changedAt(len(big) - 1)},
		{"old is longer", big, big[:len(big)-1]},
		{"new is longer", big[:100000], big},
		{"new is empty", big, []byte{}},
	}
	for _, tt := range tests {
		for _, piece := range []int{1000, 7, 1 << 20} {
			t.Run(tt.name, func(t *testing.T) {
				dir := t.TempDir()
				file := filepath.Join(dir, "feed.xml")
				past := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
				if tt.old != nil {
					if err := os.WriteFile(file, tt.old, 0o600); err != nil {
						t.Fatal(err)
					}
					setMtime(t, file, past)
				}
				size := int64(-1) // unknown, as for BuildDir
				if piece == 1<<20 {
					size = int64(len(tt.new)) // known, as for WriteDir
				}
				f, err := openDiffFile(file, size)
				if err != nil {
					t.Fatal(err)
				}
				for p := tt.new; len(p) > 0; {
					n := min(piece, len(p))
					if m, err := f.Write(p[:n]); m != n || err != nil {
						t.Fatalf("Write = %d, %v", m, err)
					}
					p = p[n:]
				}
				wrote, err := f.commit()
				if err != nil {
					t.Fatal(err)
				}
				same := tt.old != nil && bytes.Equal(tt.old, tt.new)
				if wrote == same {
					t.Errorf("wrote = %v, want %v", wrote, !same)
				}
				data, err := os.ReadFile(file)
				if err != nil || !bytes.Equal(data, tt.new) {
					t.Fatalf("file holds %d bytes, want the %d new ones (err %v)", len(data), len(tt.new), err)
				}
				fi, _ := os.Stat(file)
				if same && (!fi.ModTime().Equal(past) || fi.Mode().Perm() != 0o600) {
					t.Error("an unchanged file was rewritten")
				}
				if !same && fi.Mode().Perm() != 0o644 {
					t.Errorf("mode %v, want 0644", fi.Mode().Perm())
				}
				if got := listFiles(t, dir); !slices.Equal(got, []string{"feed.xml"}) {
					t.Errorf("files %v: a temp file was left behind", got)
				}
			})
		}
	}
}

// A file given up half-way (a write error) leaves the old file as it was
// and no temporary file.
func TestDiffFileAbort(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "feed.xml")
	os.WriteFile(file, []byte("old bytes"), 0o644)
	f, err := openDiffFile(file, -1)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("old "))
	f.Write([]byte("and new bytes"))
	if f.tmp == nil {
		t.Fatal("no temporary file made for differing bytes")
	}
	f.abort()
	if data, _ := os.ReadFile(file); string(data) != "old bytes" {
		t.Errorf("old file now holds %q", data)
	}
	if got := listFiles(t, dir); !slices.Equal(got, []string{"feed.xml"}) {
		t.Errorf("files %v: a temp file was left behind", got)
	}
}

func TestBuildDirErrors(t *testing.T) {
	site := testSite(t)
	// A folder where a file should go: an error naming the file, the
	// others written, no temp file left.
	blocked := t.TempDir()
	os.Mkdir(filepath.Join(blocked, "feed.xml"), 0o755)
	_, _, err := BuildDir(context.Background(), blocked, site, testFeeds(), testEntries(t))
	if err == nil || !strings.Contains(err.Error(), "feed.xml") {
		t.Errorf("err = %v, want one naming feed.xml", err)
	}
	if got := listFiles(t, blocked); !slices.Equal(got, []string{"atom.xml", "feed.json"}) {
		t.Errorf("files = %v: a temp file was left behind?", got)
	}
	// Argument errors touch nothing.
	dir := filepath.Join(t.TempDir(), "public")
	cfg := testFeeds()
	cfg.RSS, cfg.Atom, cfg.JSON = "feed.xml", "feed.xml", "feed.json"
	if _, _, err := BuildDir(context.Background(), dir, site, cfg, testEntries(t)); err == nil || !strings.Contains(err.Error(), "two feeds named feed.xml") {
		t.Errorf("two files named feed.xml: err = %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("an argument error made the folder (err %v)", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := BuildDir(ctx, dir, site, testFeeds(), testEntries(t)); err == nil {
		t.Error("cancelled context: no error")
	}
}
