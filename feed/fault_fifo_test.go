//go:build unix

package feed

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
)

// mkfifo replaces file by a named pipe.
func mkfifo(t *testing.T, file string) {
	t.Helper()
	if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(file, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
}

func TestScanFIFO(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "2024-01-01-a.md", post("A", "a\n"), oldTime)
	b := writeFile(t, dir, "2024-01-02-b.md", post("B", "b\n"), oldTime)
	l := NewLoader(loaderSite(t, "UTC", ""), dir, nil)
	scan(t, l)

	// Swapped in between two scans: the walk sees it and reports it.
	mkfifo(t, b)
	var snap *Snapshot
	within(t, "scan of a folder with a FIFO", func() { snap = scan(t, l) })
	if got := postPaths(snap); len(got) != 1 || got[0] != "2024-01-01-a.md" {
		t.Errorf("posts = %v, want only the regular one", got)
	}
	if p := problemFor(t, snap, b); p.Warning || !strings.Contains(p.Msg, "not a regular file") {
		t.Errorf("problem = %+v, want an error saying not a regular file", p)
	}

	// Swapped in after the walk saw a regular file, before it is read: the
	// open must not block, and the descriptor's check rejects it.
	c := writeFile(t, dir, "2024-01-03-c.md", post("C", "c\n"), oldTime)
	l.beforeRead = func(file string) {
		if file == c {
			mkfifo(t, c)
		}
	}
	within(t, "scan of a post swapped for a FIFO", func() { snap = scan(t, l) })
	l.beforeRead = nil
	if p := problemFor(t, snap, c); !strings.Contains(p.Msg, "not a regular file") {
		t.Errorf("problem = %+v, want not a regular file", p)
	}
	if len(snap.Posts) != 1 {
		t.Errorf("posts = %v, want the regular one still published", postPaths(snap))
	}
}

func TestRenderFIFO(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "2024-01-01-a.md", post("A", "a\n"), oldTime)
	l := NewLoader(loaderSite(t, "UTC", ""), dir, nil)
	snap := scan(t, l)
	mkfifo(t, a)
	var err error
	within(t, "Render of a post swapped for a FIFO", func() { _, err = l.Render(context.Background(), snap.Posts[0]) })
	if !errors.Is(err, errNotRegular) {
		t.Errorf("Render = %v, want errNotRegular", err)
	}
	within(t, "Section of a post swapped for a FIFO", func() { _, err = l.Section(context.Background(), snap.Posts[0], "TLDR", 0) })
	if !errors.Is(err, errNotRegular) {
		t.Errorf("Section = %v, want errNotRegular", err)
	}
}
