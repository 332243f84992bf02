package schedule

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// watcher watches the posts folder and its subfolders (fsnotify is not
// recursive: each folder is added, and new ones as they appear) and signals
// events, coalesced into a channel holding at most one. The loop debounces
// them. A missing folder is not an error: ensure retries at each scan.
type watcher struct {
	root   string
	log    *slog.Logger
	fs     *fsnotify.Watcher
	events chan struct{}
	done   chan struct{}

	mu       sync.Mutex
	watching bool  // the root is watched
	started  bool  // ensure ran before: a later successful add signals a rescan
	lastErr  error // the last ensure error, logged once
}

// newWatcher starts watching root. The folder need not exist yet.
func newWatcher(root string, log *slog.Logger) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &watcher{
		root:   filepath.Clean(root),
		log:    log,
		fs:     fw,
		events: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	go w.loop()
	w.ensure()
	return w, nil
}

// close stops the watch.
func (w *watcher) close() {
	w.fs.Close()
	<-w.done
}

// ensure (re)adds the folder tree when the root is not watched, e.g. it was
// missing at start or was removed and recreated.
func (w *watcher) ensure() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.watching {
		return
	}
	err := w.addTree(w.root)
	if err != nil {
		if w.lastErr == nil || w.lastErr.Error() != err.Error() {
			w.log.Warn("cannot watch the posts folder; retrying at each scan", "dir", w.root, "err", err)
		}
		w.lastErr = err
		w.started = true
		return
	}
	if w.started {
		w.log.Info("watching the posts folder again", "dir", w.root)
		// Files may have changed while unwatched.
		w.signal()
	}
	w.lastErr = nil
	w.watching = true
	w.started = true
}

// addTree adds dir and every folder below it, skipping dot-folders and the
// "_" folders the loader skips (all but _posts: a Jekyll site's _site,
// rebuilt by Jekyll, would otherwise trigger scans for nothing).
func (w *watcher) addTree(dir string) error {
	start := dir
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		start = real
	}
	return filepath.WalkDir(start, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if path == start {
				return err
			}
			return nil // a subfolder vanished or is unreadable: skip it
		}
		if !e.IsDir() {
			return nil
		}
		if path != start && (ignored(e.Name()) || skippedDir(e.Name())) {
			return filepath.SkipDir
		}
		if err := w.fs.Add(path); err != nil {
			if path == start {
				return err
			}
			w.log.Warn("cannot watch a posts subfolder", "dir", path, "err", err)
		}
		return nil
	})
}

// loop turns fsnotify events into signals.
func (w *watcher) loop() {
	defer close(w.done)
	for {
		select {
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			w.handle(ev)
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.signal() // events were lost: rescan
			}
			w.log.Warn("file watch error", "err", err)
		}
	}
}

// handle filters one event and signals it.
func (w *watcher) handle(ev fsnotify.Event) {
	if ev.Op == fsnotify.Chmod || ignored(filepath.Base(ev.Name)) {
		return
	}
	name := filepath.Clean(ev.Name)
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Lstat(name); err == nil && fi.IsDir() && !skippedDir(filepath.Base(name)) {
			w.mu.Lock()
			if err := w.addTree(name); err != nil {
				w.log.Warn("cannot watch a new posts subfolder", "dir", name, "err", err)
			}
			w.mu.Unlock()
		}
	}
	if (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) && (name == w.root || name == w.realRoot()) {
		w.mu.Lock()
		w.watching = false
		_ = w.fs.Remove(w.root) // a renamed folder keeps its watch; drop it
		w.mu.Unlock()
	}
	w.signal()
}

// realRoot is the root with symbolic links resolved (what fsnotify names).
func (w *watcher) realRoot() string {
	if real, err := filepath.EvalSymlinks(w.root); err == nil {
		return real
	}
	return w.root
}

// signal records that something changed, without blocking.
func (w *watcher) signal() {
	select {
	case w.events <- struct{}{}:
	default:
	}
}

// ignored reports whether a file or folder name is not worth a rescan:
// dot-files (also Emacs lock files ".#x" and Vim swap files ".x.swp"),
// backups ("x~"), Vim's swap and write-test files ("x.swp", "4913"), Emacs
// auto-saves ("#x#").
// skippedDir reports whether the loader skips a folder of this name:
// every "_" folder but _posts.
func skippedDir(base string) bool { return strings.HasPrefix(base, "_") && base != "_posts" }

func ignored(base string) bool {
	switch {
	case base == "" || base == "." || base == "..":
		return false
	case strings.HasPrefix(base, "."),
		strings.HasSuffix(base, "~"),
		strings.HasSuffix(base, ".swp"), strings.HasSuffix(base, ".swx"), strings.HasSuffix(base, ".swo"),
		base == "4913",
		strings.HasPrefix(base, "#") && strings.HasSuffix(base, "#"):
		return true
	}
	return false
}
