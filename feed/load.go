package feed

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// racyWindow is how recent a file's mtime must be for the cache not to trust
// it: a file written twice within the file system's timestamp granularity
// can keep its size and mtime, so such a file is read again on the next scan
// (as Git does with "racily clean" entries).
const racyWindow = 2 * time.Second

// Loader reads the posts folder. It caches posts by path, size and mtime: an
// unchanged file is not re-read on the next Scan (a rescan costs directory
// reads and one stat per file). It never keeps post bodies in memory: Render
// and Section read the file again. Safe for concurrent use; Scans run one at
// a time.
type Loader struct {
	st      *Site
	dir     string
	log     *slog.Logger
	clock   Clock
	parser  *postParser
	workers int
	r       *renderer
	// postsOnly: the posts folder is a Jekyll site's source folder, whose
	// posts are the files in its _posts folders (and only those).
	postsOnly bool

	scanMu  sync.Mutex             // one Scan at a time
	cache   map[string]*cacheEntry // by Post.Path; owned by Scan (scanMu)
	last    *Snapshot              // the last Scan's result, when every folder could be read; owned by Scan
	reads   atomic.Int64           // files read by Scan, for tests
	scratch walkScratch            // the walk's buffers; owned by Scan

	mu     sync.RWMutex
	byName map[string][]*Post // latest scan's posts by Name, for resolve
	byPath map[string]*Post   // latest scan's posts by Path

	bodies sync.Pool // *[]byte: file buffers of body

	maxSize       int64         // posts.max_size
	renderTimeout time.Duration // posts.render_timeout
	renders       renderCalls   // renders in flight, for the deadline

	// beforeRead, when set (tests), is called before a changed file is
	// read by Scan.
	beforeRead func(file string)
}

// cacheEntry is one file as the last Scan saw it.
type cacheEntry struct {
	rel     string // Post.Path: the cache key
	file    string // OS path
	size    int64
	mtime   time.Time
	racy    bool // mtime was too recent to trust: read again next time
	parsed  *parsedPost
	problem *Problem // the error that skipped the file; nil when it parsed
}

// NewLoader returns a Loader of the posts in dir for site (which should be
// validated), on the system clock. A nil logger discards.
func NewLoader(site *Site, dir string, logger *slog.Logger) *Loader {
	return NewLoaderWith(site, dir, LoaderOptions{Logger: logger})
}

// LoaderOptions are a Loader's collaborators; the zero value is valid.
type LoaderOptions struct {
	Logger *slog.Logger // nil: discard
	Clock  Clock        // nil: the system clock
}

// NewLoaderWith returns a Loader of the posts in dir for site (which should
// be validated), logging to opts.Logger and taking the time from
// opts.Clock.
func NewLoaderWith(site *Site, dir string, opts LoaderOptions) *Loader {
	logger, clock := opts.Logger, opts.Clock
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = systemClock{}
	}
	l := &Loader{
		st:      site,
		dir:     dir,
		log:     logger,
		clock:   clock,
		parser:  newPostParser(site),
		workers: max(2, runtime.GOMAXPROCS(0)),
		r:       newRenderer(site),
		cache:   map[string]*cacheEntry{},

		maxSize:       DefaultMaxPostSize,
		renderTimeout: DefaultRenderTimeout,
	}
	if site.Jekyll != "" {
		if rel, err := filepath.Rel(site.Jekyll, dir); err == nil && rel == "." {
			l.postsOnly = true
		} else if err == nil && !strings.HasPrefix(rel, "..") {
			l.parser.relPrefix = filepath.ToSlash(rel) + "/"
		}
	}
	return l
}

// inPostsFolder reports whether rel lies in a folder called _posts.
func inPostsFolder(rel string) bool {
	return strings.HasPrefix(rel, "_posts/") || strings.Contains(rel, "/_posts/")
}

// site is the site the loader was made for.
func (l *Loader) site() *Site { return l.st }

// candidate is a post file found by the walk.
type candidate struct {
	rel   string // slash-separated, relative to l.dir
	file  string // OS path
	size  int64
	mtime time.Time
	entry *cacheEntry // cached, or nil when the file must be read
}

// Scan walks the posts folder and returns every post in it. It descends
// into subfolders except dot-folders and folders starting with "_" (such as
// "_drafts"), "_posts" excepted; it takes files named "YYYY-MM-DD-slug.md" or
// ".markdown" and ignores every other file. Files whose size and mtime did
// not change since the last Scan are not read again; the others are read on
// several workers. A file that is not a valid post gives an error Problem
// and is skipped; the rest still load. The error is only for a posts folder
// that cannot be read, or a cancelled ctx. Posts are shared between
// snapshots: callers must not modify them.
func (l *Loader) Scan(ctx context.Context) (*Snapshot, error) {
	l.scanMu.Lock()
	defer l.scanMu.Unlock()
	start := l.clock.Now()

	if fi, err := os.Stat(l.dir); err != nil {
		return nil, fmt.Errorf("feed: posts folder: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("feed: posts folder %s: not a folder", l.dir)
	}
	w := walker{l: l, ctx: ctx, start: start, found: make([]candidate, 0, len(l.cache))}
	if err := w.walk(l.dir, ""); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("feed: scan: %w", ctxErr)
		}
		return nil, fmt.Errorf("feed: posts folder: %w", err)
	}
	found, problems := w.found, w.problems

	read, err := l.readChanged(ctx, found, start)
	if err != nil {
		return nil, err
	}
	// Nothing read, nothing gone, nothing new: the last snapshot stands.
	if read == 0 && len(problems) == 0 && len(found) == len(l.cache) && l.last != nil {
		l.log.Debug("feed: scanned posts, none changed", "dir", l.dir, "posts", len(l.last.Posts), "took", l.clock.Now().Sub(start))
		return &Snapshot{Posts: slices.Clone(l.last.Posts), Problems: slices.Clone(l.last.Problems)}, nil
	}

	cache := make(map[string]*cacheEntry, len(found))
	posts := make([]*parsedPost, 0, len(found))
	for _, c := range found {
		cache[c.rel] = c.entry
		if c.entry.problem != nil {
			problems = append(problems, *c.entry.problem)
			continue
		}
		posts = append(posts, c.entry.parsed)
		for _, w := range c.entry.parsed.warnings {
			problems = append(problems, Problem{File: c.file, Line: w.line, Msg: w.msg, Warning: true})
		}
	}
	l.cache = cache

	kept, dupProblems := dropDuplicates(posts)
	problems = append(problems, dupProblems...)
	snap := &Snapshot{Posts: kept, Problems: problems}
	slices.SortFunc(snap.Posts, comparePosts)
	slices.SortFunc(snap.Problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Msg, b.Msg))
	})
	if len(w.problems) == 0 {
		l.last = &Snapshot{Posts: slices.Clone(snap.Posts), Problems: slices.Clone(snap.Problems)}
	} else {
		l.last = nil // a folder could not be read: do not trust the count of files next time
	}

	byName := make(map[string][]*Post, len(kept))
	byPath := make(map[string]*Post, len(kept))
	for _, p := range snap.Posts {
		byName[p.Name] = append(byName[p.Name], p)
		byPath[p.Path] = p
	}
	l.mu.Lock()
	l.byName, l.byPath = byName, byPath
	l.mu.Unlock()
	l.log.Debug("feed: scanned posts", "dir", l.dir, "posts", len(snap.Posts), "read", read,
		"problems", len(snap.Problems), "took", l.clock.Now().Sub(start))
	return snap, nil
}

// comparePosts orders posts by date, newest first, then by path.
func comparePosts(a, b *Post) int {
	return cmp.Or(b.Date.Compare(a.Date), cmp.Compare(a.Path, b.Path))
}

// readChanged reads, on l.workers goroutines, every candidate that has no
// cache entry, fills in its entry, and returns how many it read.
func (l *Loader) readChanged(ctx context.Context, found []candidate, start time.Time) (int, error) {
	var todo []int
	for i := range found {
		if found[i].entry == nil {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return 0, nil
	}
	jobs := make(chan int, len(todo))
	for _, i := range todo {
		jobs <- i
	}
	close(jobs)
	var wg sync.WaitGroup
	for range min(l.workers, len(todo)) {
		wg.Go(func() {
			var buf []byte // reused: the body is not kept
			for i := range jobs {
				if ctx.Err() != nil {
					continue
				}
				c := &found[i]
				c.entry, buf = l.readPost(c, start, buf)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("feed: scan: %w", err)
	}
	return len(todo), nil
}

// readPost reads and parses one file, reading into buf (returned, maybe
// grown, for the next file).
func (l *Loader) readPost(c *candidate, start time.Time, buf []byte) (*cacheEntry, []byte) {
	e := &cacheEntry{rel: c.rel, file: c.file, size: c.size, mtime: c.mtime, racy: !c.mtime.Before(start.Add(-racyWindow))}
	l.reads.Add(1)
	if l.beforeRead != nil {
		l.beforeRead(c.file)
	}
	data, err := readFileInto(c.file, buf[:0], c.size, l.maxSize)
	switch {
	case errors.Is(err, errNotRegular):
		e.problem = &Problem{File: c.file, Msg: errNotRegular.Error()}
		return e, buf
	case errors.Is(err, errTooLarge):
		e.problem = &Problem{File: c.file, Msg: tooLarge(int64(len(data)), l.maxSize)}
		return e, buf
	case err != nil:
		e.problem = &Problem{File: c.file, Msg: "cannot read: " + unwrapPathError(err)}
		return e, buf
	}
	buf = data
	pp, err := l.parser.parse(c.rel, data)
	if err != nil {
		var perr *postError
		if errors.As(err, &perr) {
			e.problem = &Problem{File: c.file, Line: perr.line, Msg: perr.msg}
		} else {
			e.problem = &Problem{File: c.file, Msg: err.Error()}
		}
		return e, buf
	}
	sum := sha256.Sum256(data)
	p := pp.post
	p.Path, p.File = c.rel, c.file
	p.Size, p.ModTime = int64(len(data)), c.mtime
	p.Hash = hex.EncodeToString(sum[:])
	p.mtimeTrusted = !e.racy // a racy entry is read again, as a new Post, by the next Scan
	e.parsed = pp
	return e, buf
}

// dropDuplicates keeps, of posts sharing an id, the one first in path order
// and reports each other one as an error (it is skipped: ids must be unique
// for feeds and for the newsletter's record of what was announced). Posts
// sharing a URL but not an id are kept, with a warning on the second.
func dropDuplicates(posts []*parsedPost) ([]*Post, []Problem) {
	slices.SortFunc(posts, func(a, b *parsedPost) int { return cmp.Compare(a.post.Path, b.post.Path) })
	byID := make(map[string]*Post, len(posts))
	byURL := make(map[string]*Post, len(posts))
	kept := make([]*Post, 0, len(posts))
	var problems []Problem
	for _, pp := range posts {
		p := pp.post
		if first := byID[p.ID]; first != nil {
			line := pp.idLine
			if line == 0 {
				line = pp.permalinkLine
			}
			what := "id"
			if p.ID == p.URL {
				what = "URL (its id)"
			}
			problems = append(problems, Problem{File: p.File, Line: line,
				Msg: fmt.Sprintf("%s %s is already used by %s; post skipped (give it another permalink or id)", what, p.ID, first.File)})
			continue
		}
		byID[p.ID] = p
		if first := byURL[p.URL]; first != nil {
			problems = append(problems, Problem{File: p.File, Line: pp.permalinkLine, Warning: true,
				Msg: fmt.Sprintf("URL %s is already used by %s (the ids differ, so both are published)", p.URL, first.File)})
		} else {
			byURL[p.URL] = p
		}
		kept = append(kept, p)
	}
	return kept, problems
}

// unwrapPathError is err's message without the *fs.PathError's path (the
// Problem already names the file).
func unwrapPathError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
