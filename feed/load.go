package feed

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNotFound is returned by Find when no post matches.
var ErrNotFound = errors.New("feed: not found")

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

// errTooLarge is readAllInto's error for a file that grew past the limit.
var errTooLarge = errors.New("file too large")

// readAllInto reads r to its end into buf (grown as needed; size is the
// expected size) and returns the bytes read. A short read that ends at the
// expected size is taken for the end of the file (as it is for a regular
// file), which saves the read that would return io.EOF. When more than
// limit bytes come, it stops and returns them with errTooLarge.
func readAllInto(r io.Reader, buf []byte, size, limit int64) ([]byte, error) {
	if want := int(min(size, limit)) + 512; cap(buf) < want {
		buf = make([]byte, 0, want)
	}
	for {
		if int64(len(buf)) > limit {
			return buf, errTooLarge
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		room := cap(buf) - len(buf)
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		if n > 0 && n < room && int64(len(buf)) == size {
			return buf, nil
		}
	}
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

// Find returns the post of snap named by nameOrSlug: its path in the posts
// folder, its file path, its file name with or without extension, or its
// slug, tried in that order. ErrNotFound when none matches; an error when a
// slug matches several posts.
func (l *Loader) Find(snap *Snapshot, nameOrSlug string) (*Post, error) {
	q := strings.TrimSpace(nameOrSlug)
	if snap == nil || q == "" {
		return nil, fmt.Errorf("feed: find %q: %w", nameOrSlug, ErrNotFound)
	}
	slashed := filepath.ToSlash(q)
	cleanFile := filepath.Clean(q)
	for _, p := range snap.Posts {
		if p.Path == slashed || p.File == cleanFile {
			return p, nil
		}
	}
	base := path.Base(slashed)
	for _, p := range snap.Posts {
		if p.Name == base || path.Base(p.Path) == base {
			return p, nil
		}
	}
	var matches []*Post
	for _, p := range snap.Posts {
		if p.Slug == q {
			matches = append(matches, p)
		}
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("feed: find %q: %w", nameOrSlug, ErrNotFound)
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, p := range matches {
		names[i] = p.Path
	}
	return nil, fmt.Errorf("feed: find %q: the slug names %d posts (%s); give the file name", nameOrSlug, len(matches), strings.Join(names, ", "))
}

// body re-reads p's file and returns its Markdown body (after the front
// matter, UTF-8 BOM removed, CRLF turned into LF) and the 1-based file line
// of its first line. The file must still have the hash the scan saw.
func (l *Loader) body(ctx context.Context, p *Post) (src []byte, line int, err error) {
	src, line, _, err = l.bodyInto(ctx, p, nil)
	return src, line, err
}

// bodyInto is body reading the file into buf (grown as needed), which it
// returns for reuse; src may point into it. When the scan that made p
// trusted its mtime (not racy) and the file still has that size and mtime,
// the file is not hashed again: the scan's cache relies on the same rule.
func (l *Loader) bodyInto(ctx context.Context, p *Post, buf []byte) (src []byte, line int, _ []byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, buf, fmt.Errorf("feed: %s: %w", p.File, err)
	}
	data, size, mtime, err := readFileStat(p.File, buf[:0], l.maxSize)
	if errors.Is(err, errTooLarge) {
		return nil, 0, data, fmt.Errorf("feed: %s: %s", p.File, tooLarge(max(size, int64(len(data))), l.maxSize))
	}
	if err != nil {
		return nil, 0, buf, fmt.Errorf("feed: %w", err)
	}
	buf = data
	if !p.mtimeTrusted || size != p.Size || int64(len(data)) != p.Size || !mtime.Equal(p.ModTime) {
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != p.Hash {
			return nil, 0, buf, fmt.Errorf("feed: %s: changed since scan", p.File)
		}
	}
	_, body, line, perr := splitFrontMatter(data)
	if perr != nil {
		return nil, 0, buf, fmt.Errorf("feed: %s:%d: %s", p.File, perr.line, perr.msg)
	}
	if bytes.IndexByte(body, '\r') >= 0 {
		body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
	}
	if perr := checkNesting(body, line); perr != nil {
		return nil, 0, buf, fmt.Errorf("feed: %s:%d: %s", p.File, perr.line, perr.msg)
	}
	return body, line, buf, nil
}

// resolve answers the Liquid tags that name other posts, from the latest
// scan. kind "post_url": arg is a post's Name ("2010-07-21-name", maybe with
// a folder prefix or an extension); the result is that post's URL, ok false
// (and "") when no post has that name. kind "link": arg is a site path such
// as "_posts/2016-07-26-name.md"; when it names a post (its path in the
// posts folder is a suffix of arg, or failing that its file name is arg's)
// the result is the post's URL with ok true; otherwise the result is
// site.url + site.baseurl + "/" + arg (".md" kept) with ok false. Any other
// kind gives "", false.
func (l *Loader) resolve(kind, arg string) (string, bool) {
	arg = strings.TrimSpace(arg)
	arg = strings.Trim(arg, `"'`)
	l.mu.RLock()
	defer l.mu.RUnlock()
	switch kind {
	case "post_url":
		q := strings.TrimPrefix(arg, "/")
		name := path.Base(q)
		name = strings.TrimSuffix(strings.TrimSuffix(name, ".md"), ".markdown")
		cands := l.byName[name]
		if len(cands) == 0 {
			return "", false
		}
		if dir := path.Dir(q); dir != "." && len(cands) > 1 {
			for _, p := range cands {
				if strings.HasSuffix(path.Dir(p.Path), dir) {
					return p.URL, true
				}
			}
		}
		return cands[0].URL, true
	case "link":
		q := strings.TrimPrefix(arg, "/")
		for rest := q; rest != ""; {
			if p := l.byPath[rest]; p != nil {
				return p.URL, true
			}
			_, after, ok := strings.Cut(rest, "/")
			if !ok {
				break
			}
			rest = after
		}
		if name, _, _, ok := postName(path.Base(q)); ok {
			if cands := l.byName[name]; len(cands) == 1 {
				return cands[0].URL, true
			}
		}
		if u, ok := l.pageURL(q); ok {
			return u, true
		}
		return l.parser.base + "/" + q, false
	}
	return "", false
}
