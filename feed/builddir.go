package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
)

// BuildDir writes the feed files Build would make of entries (the same
// bytes) under dir, as WriteDir would write Build's Output, without
// holding any file whole in memory: each file goes to disk as it is built.
// A file whose bytes on disk already equal the new ones is left alone (its
// mtime stays): the new bytes are compared with the old file as they come,
// and only once they differ are they written, to a temporary file in the
// same folder that is synced and renamed over the old one (and the folder
// synced). Per-tag feed files no longer built are removed, as WriteDir
// does. files lists every file built, sorted; changed the names written or
// removed, in order. Argument errors (those of Build) come before any file
// is touched.
func BuildDir(ctx context.Context, dir string, site *Site, cfg *FeedsConfig, entries []Entry) (files, changed []string, err error) {
	jobs, err := plan(site, cfg, entries)
	if err != nil {
		return nil, nil, err
	}
	slices.SortStableFunc(jobs, func(a, b job) int { return b.d.estimate - a.d.estimate }) // the largest first
	want := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		if !validName(j.name) {
			return nil, nil, fmt.Errorf("feed: write: invalid file name %q", j.name)
		}
		want[j.name] = true
		files = append(files, j.name)
	}
	slices.Sort(files)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("feed: write: %w", err)
	}
	wrote := make([]bool, len(jobs))
	errs := make([]error, len(jobs))
	// One goroutine more than there are cores: while a file waits for the
	// disk (its sync), the next one is built; and the three main files of
	// a feed, about the same size, share two cores instead of the third
	// starting only when one of the others is done.
	parallelOn(runtime.GOMAXPROCS(0)+1, len(jobs), func(i int) {
		if err := ctx.Err(); err != nil {
			errs[i] = fmt.Errorf("feed: write: %w", err)
			return
		}
		wrote[i], errs[i] = buildFile(filepath.Join(dir, filepath.FromSlash(jobs[i].name)), &jobs[i])
	})
	for i, j := range jobs {
		if wrote[i] {
			changed = append(changed, j.name)
		}
	}
	slices.Sort(changed)
	if err := errors.Join(errs...); err != nil {
		return files, changed, err
	}
	removed, err := removeStaleTags(ctx, dir, want)
	changed = append(changed, removed...)
	if err != nil {
		return files, changed, fmt.Errorf("feed: write: %w", err)
	}
	return files, changed, nil
}

// buildFile writes j's bytes to file through a diffFile and reports
// whether the file changed.
func buildFile(file string, j *job) (bool, error) {
	f, err := openDiffFile(file, -1)
	if err != nil {
		return false, fmt.Errorf("feed: write %s: %w", j.name, err)
	}
	if err := j.run(f); err != nil {
		f.abort()
		return false, err
	}
	wrote, err := f.commit()
	if err != nil {
		return false, fmt.Errorf("feed: write %s: %w", j.name, err)
	}
	return wrote, nil
}

// diffFile replaces a file with the bytes written to it, unless they are
// the file's bytes already. While what is written equals the old file's
// start, nothing is written to disk; at the first difference a temporary
// file is made in the same folder, the old file's equal start copied into
// it, and from then on everything goes there.
type diffFile struct {
	file    string   // the file to replace
	old     *os.File // the file as it is, being compared; nil when there is none or it differs
	oldSize int64
	off     int64    // bytes equal to old's so far (while tmp is nil)
	tmp     *os.File // the new file; nil while the bytes equal old's
	cmp     []byte   // old's bytes, read to compare
}

// openDiffFile starts replacing file (its folder is created when
// missing). size is the size of the new bytes when known, else -1: an old
// file of another size is not compared.
func openDiffFile(file string, size int64) (*diffFile, error) {
	f := &diffFile{file: file}
	if old, err := os.Open(file); err == nil {
		if fi, err := old.Stat(); err == nil && fi.Mode().IsRegular() && (size < 0 || fi.Size() == size) {
			f.old, f.oldSize = old, fi.Size()
			f.cmp = make([]byte, 64<<10)
		} else {
			old.Close()
		}
	}
	if f.old == nil {
		if err := f.start(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// start makes the temporary file and copies into it the old file's first
// f.off bytes, which equal what was written so far.
func (f *diffFile) start() error {
	folder := filepath.Dir(f.file)
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(folder, "."+filepath.Base(f.file)+".tmp-*")
	if err != nil {
		return err
	}
	f.tmp = tmp
	if f.old != nil {
		if f.off > 0 {
			if _, err := io.Copy(tmp, io.NewSectionReader(f.old, 0, f.off)); err != nil {
				return err
			}
		}
		f.old.Close()
		f.old = nil
	}
	return nil
}

// Write implements io.Writer.
func (f *diffFile) Write(p []byte) (int, error) {
	if f.tmp == nil {
		if f.same(p) {
			f.off += int64(len(p))
			return len(p), nil
		}
		if err := f.start(); err != nil {
			return 0, err
		}
	}
	return f.tmp.Write(p)
}

// same reports whether the old file holds p at f.off.
func (f *diffFile) same(p []byte) bool {
	if f.off+int64(len(p)) > f.oldSize {
		return false
	}
	for off := f.off; len(p) > 0; {
		n := min(len(p), len(f.cmp))
		if _, err := f.old.ReadAt(f.cmp[:n], off); err != nil || string(f.cmp[:n]) != string(p[:n]) {
			return false
		}
		p, off = p[n:], off+int64(n)
	}
	return true
}

// commit finishes the file: when every byte equalled the old file's, it
// is left alone (false); otherwise the temporary file is synced and renamed
// over it, and the folder synced (true).
func (f *diffFile) commit() (bool, error) {
	if f.tmp == nil && f.off == f.oldSize {
		f.old.Close()
		return false, nil
	}
	if f.tmp == nil { // the old file is longer
		if err := f.start(); err != nil {
			f.abort()
			return false, err
		}
	}
	tmp := f.tmp
	err := tmp.Chmod(0o644)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f.file)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return false, err
	}
	return true, syncDir(filepath.Dir(f.file))
}

// abort gives up: the old file stays as it was, the temporary file goes.
func (f *diffFile) abort() {
	if f.old != nil {
		f.old.Close()
	}
	if f.tmp != nil {
		f.tmp.Close()
		os.Remove(f.tmp.Name())
	}
}
