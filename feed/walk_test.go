package feed

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWalkMatchesPortable checks that the folder walk finds the same files,
// sizes, mtimes and problems as the portable walk (os.ReadDir and Lstat)
// on a tree with subfolders, skipped folders, symlinks, special files and
// an unreadable folder.
func TestWalkMatchesPortable(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, data string) {
		t.Helper()
		file := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	post := "---\ntitle: x\n---\nbody\n"
	for i := range 600 { // enough for the parallel stats
		write(fmt.Sprintf("2020-01-01-p%03d.md", i), post+fmt.Sprint(i))
	}
	write("2021/2021-02-02-sub.markdown", post)
	write("blog/_posts/2021-03-03-cat.md", post)
	write("_drafts/2021-04-04-draft.md", post)
	write("_other/2021-04-04-hidden.md", post)
	write(".git/2021-05-05-dot.md", post)
	write(".2021-05-05-dot.md", post)
	write("notes.md", "not a post")
	write("2021-06-06-x.txt", "not a post")
	write("real/2022-01-01-target.md", post)
	if err := os.Symlink(filepath.Join(dir, "real", "2022-01-01-target.md"), filepath.Join(dir, "2022-01-02-link.md")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "missing.md"), filepath.Join(dir, "2022-01-03-dangling.md")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "2022-01-04-fifo.md"), 0o644); err != nil {
		t.Log("no fifo:", err)
	}
	old := time.Now().Add(-time.Hour) // older than the racy window: cached
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			err = os.Chtimes(p, old, old)
		}
		return err
	})
	locked := filepath.Join(dir, "locked")
	write("locked/2022-02-02-in.md", post)
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(locked, 0o755) })

	walk := func(portable bool, l *Loader) *walker {
		t.Helper()
		w := &walker{l: l, ctx: context.Background(), portable: portable}
		if err := w.walk(dir, ""); err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(w.found, func(a, b candidate) int { return strings.Compare(a.rel, b.rel) })
		slices.SortFunc(w.problems, func(a, b Problem) int { return strings.Compare(a.Error(), b.Error()) })
		return w
	}
	l := NewLoader(loaderSite(t, "UTC", ""), dir, nil)
	for round := range 2 { // the second round with a filled cache
		want, got := walk(true, l), walk(false, l)
		if len(got.found) != len(want.found) {
			t.Fatalf("round %d: found %d files, want %d", round, len(got.found), len(want.found))
		}
		for i := range want.found {
			g, w := got.found[i], want.found[i]
			if g.rel != w.rel || g.file != w.file || g.size != w.size || !g.mtime.Equal(w.mtime) || g.entry != w.entry {
				t.Errorf("round %d: found %+v, want %+v", round, g, w)
			}
		}
		if !slices.Equal(got.problems, want.problems) {
			t.Errorf("round %d: problems %v, want %v", round, got.problems, want.problems)
		}
		if round == 0 {
			if os.Geteuid() != 0 && len(want.problems) == 0 {
				t.Error("the unreadable folder gave no problem")
			}
			if _, err := l.Scan(context.Background()); err != nil {
				t.Fatal(err)
			}
			continue
		}
		cached := 0
		for _, c := range got.found {
			if c.entry != nil {
				cached++
			}
		}
		if cached < 600 {
			t.Errorf("%d files found in the cache, want 600 or more", cached)
		}
	}
}
