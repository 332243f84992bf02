package feed

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// Post returns the post whose ID is id, from a fresh scan (cheap: unchanged
// files are not re-read). It returns an error wrapping ErrNotFound when no
// post has that ID any more.
func (l *Loader) Post(ctx context.Context, id string) (*Post, error) {
	snap, err := l.Scan(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range snap.Posts {
		if p.ID == id {
			return p, nil
		}
	}
	return nil, fmt.Errorf("feed: post %q: %w", id, ErrNotFound)
}

// ErrNotFound is returned by Find when no post matches.
var ErrNotFound = errors.New("feed: not found")

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
