package feed

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// walker collects the post files of a posts folder.
type walker struct {
	l        *Loader
	ctx      context.Context
	start    time.Time // when the scan started, on the Loader's clock
	found    []candidate
	problems []Problem
	portable bool // walk with walkPortable only (tests of the fast walker)
}

// walkPortable reads the folder dir, whose path in the posts folder is rel ("" for
// the posts folder itself). Only a failure to read the posts folder itself
// is an error; an unreadable subfolder or file is a Problem.
func (w *walker) walkPortable(dir, rel string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(dir)
	var entries []os.DirEntry
	if err == nil {
		entries, err = f.ReadDir(-1) // unsorted: cheaper, and the results are sorted anyway
		f.Close()
	}
	if err != nil {
		if rel == "" {
			return err
		}
		w.problems = append(w.problems, Problem{File: dir, Msg: "cannot read folder: " + unwrapPathError(err)})
		return nil
	}
	for _, d := range entries {
		if err := w.visit(dir, rel, d); err != nil {
			return err
		}
	}
	return nil
}

// visit handles one entry d of the folder dir (whose path in the posts
// folder is rel): a subfolder is walked, a post file becomes a candidate,
// anything else is ignored.
func (w *walker) visit(dir, rel string, d fs.DirEntry) error {
	name := d.Name()
	if strings.HasPrefix(name, ".") {
		return nil
	}
	file := dir + string(filepath.Separator) + name
	crel := name
	if rel != "" {
		crel = rel + "/" + name
	}
	if d.IsDir() {
		if strings.HasPrefix(name, "_") && name != "_posts" {
			return nil
		}
		return w.walk(file, crel)
	}
	if _, _, _, ok := postName(name); !ok {
		w.ignored(file, name)
		return nil
	}
	var info fs.FileInfo
	var err error
	if d.Type()&fs.ModeSymlink != 0 {
		info, err = os.Stat(file)
	} else {
		info, err = d.Info()
	}
	if err != nil {
		w.statFailed(file, err)
		return nil
	}
	if !info.Mode().IsRegular() {
		w.notRegular(file)
		return nil
	}
	w.add(crel, file, info.Size(), info.ModTime(), nil)
	return nil
}

// ignored logs a file that is not a post, when it looks like one.
func (w *walker) ignored(file, name string) {
	if strings.HasSuffix(name, ".md") || strings.HasSuffix(name, ".markdown") {
		w.l.log.Debug("feed: ignoring a Markdown file not named YYYY-MM-DD-slug", "file", file)
	}
}

// statFailed records a post file that could not be stat'ed: a Problem,
// unless it was deleted since the folder was read (then it is not there).
func (w *walker) statFailed(file string, err error) {
	if !errors.Is(err, fs.ErrNotExist) {
		w.problems = append(w.problems, Problem{File: file, Msg: "cannot read: " + unwrapPathError(err)})
	}
}

// notRegular records a file named like a post that is not a regular file
// (a named pipe, a device): it is reported and never opened.
func (w *walker) notRegular(file string) {
	w.problems = append(w.problems, Problem{File: file, Msg: errNotRegular.Error()})
}

// add records the post file rel (OS path file) with its size and mtime.
// e is its cache entry when the caller looked it up already (nil: look it
// up); it is reused when the file did not change. A file over
// posts.max_size gets an entry with its Problem at once: it is not read.
func (w *walker) add(rel, file string, size int64, mtime time.Time, e *cacheEntry) {
	if w.l.postsOnly && !inPostsFolder(rel) {
		return
	}
	if e == nil {
		e = w.l.cache[rel]
	}
	c := candidate{rel: rel, file: file, size: size, mtime: mtime}
	if e != nil && !e.racy && e.size == size && e.mtime.Equal(mtime) {
		c.entry = e
	} else if size > w.l.maxSize {
		c.entry = &cacheEntry{rel: rel, file: file, size: size, mtime: mtime,
			racy:    !mtime.Before(w.start.Add(-racyWindow)),
			problem: &Problem{File: file, Msg: tooLarge(size, w.l.maxSize)}}
	}
	w.found = append(w.found, c)
}
