//go:build linux && (amd64 || arm64)

package feed

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// FuzzWalk is the differential test of the getdents64/fstatat folder walk
// against the library path it shadows (os.File.ReadDir and os.Lstat, the
// portable walk): on a tree built from the fuzz input (post files, other
// files, skipped and nested folders, symlinks, named pipes, empty files),
// both must find the same files with the same sizes and mtimes and report
// the same problems, with an empty and with a filled cache.
//
//	go test ./feed -run '^$' -fuzz FuzzWalk -fuzztime 30s
func FuzzWalk(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13})
	f.Add([]byte("\x03\x03\x03\x01\x02\x05\x07\x00\x08\x09"))
	names := []string{
		"2024-01-01-a.md", "2024-01-02-b.markdown", "notes.md", "2024-13-01-x.md", ".2024-01-01-dot.md",
		"_drafts", "_posts", "sub", ".git", "2024-01-03-c.md", "x.txt", "2024-01-04-d.md",
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		dir := t.TempDir()
		cur := dir // the folder files go into
		old := time.Now().Add(-time.Hour)
		for i, op := range ops {
			name := names[int(op)%len(names)]
			p := filepath.Join(cur, name)
			switch int(op) / len(names) % 6 {
			case 0: // a file with i bytes
				os.WriteFile(p, []byte("---\ntitle: x\n---\n"+strings.Repeat("b", i)), 0o644)
				os.Chtimes(p, old, old)
			case 1: // a folder, entered
				if os.MkdirAll(p, 0o755) == nil {
					cur = p
				}
			case 2: // back to the top
				cur = dir
			case 3: // a symlink to the first post, or dangling
				os.Symlink(filepath.Join(dir, names[i%2]), p)
			case 4:
				syscall.Mkfifo(p, 0o644)
			case 5: // an empty file
				os.WriteFile(p, nil, 0o644)
			}
		}
		walk := func(portable bool, l *Loader) *walker {
			w := &walker{l: l, ctx: context.Background(), portable: portable}
			if err := w.walk(dir, ""); err != nil {
				t.Fatal(err)
			}
			slices.SortFunc(w.found, func(a, b candidate) int { return strings.Compare(a.rel, b.rel) })
			slices.SortFunc(w.problems, func(a, b Problem) int { return strings.Compare(a.Error(), b.Error()) })
			return w
		}
		l := NewLoader(loaderSite(t, "UTC", ""), dir, nil)
		for round := range 2 {
			want, got := walk(true, l), walk(false, l)
			if len(got.found) != len(want.found) {
				t.Fatalf("round %d: found %d files, want %d", round, len(got.found), len(want.found))
			}
			for i := range want.found {
				g, w := got.found[i], want.found[i]
				if g.rel != w.rel || g.file != w.file || g.size != w.size || !g.mtime.Equal(w.mtime) || (g.entry == nil) != (w.entry == nil) {
					t.Errorf("round %d: found %+v, want %+v", round, g, w)
				}
			}
			if !slices.Equal(got.problems, want.problems) {
				t.Errorf("round %d: problems %v, want %v", round, got.problems, want.problems)
			}
			if _, err := l.Scan(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	})
}
