package feed

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Generate builds the feeds of snap at now. It scans nothing: it keeps the
// posts that are Due(now), takes the newest cfg.Limit of them (0 = all) and,
// with cfg.Tags, the newest cfg.Limit of each tag, renders only those with
// l.Render on runtime.GOMAXPROCS(0) workers, and calls Build. A post that
// fails to render is left out and the next due post takes its place, so a
// feed still holds cfg.Limit posts when there are enough. When some posts
// failed, Generate returns the Output of the others together with an error
// joining one error per failed post (each naming its file); callers should
// still publish the Output. A cancelled ctx returns no Output and ctx's
// error.
func Generate(ctx context.Context, l *Loader, site *Site, cfg *FeedsConfig, snap *Snapshot, now time.Time) (*Output, error) {
	if l == nil || snap == nil {
		return nil, errors.New("feed: generate: nil loader or snapshot")
	}
	return generate(ctx, l.Render, site, cfg, snap, now)
}

// Entries is the first half of Generate: the rendered entries it would
// pass to Build, for BuildDir. Its errors are Generate's: when some posts
// failed to render, the entries of the others come with an error joining
// one per failed post; a cancelled ctx gives no entries.
func Entries(ctx context.Context, l *Loader, site *Site, cfg *FeedsConfig, snap *Snapshot, now time.Time) ([]Entry, error) {
	if l == nil || snap == nil {
		return nil, errors.New("feed: generate: nil loader or snapshot")
	}
	return entries(ctx, l.Render, site, cfg, snap, now)
}

// renderFunc renders one post; Loader.Render in production.
type renderFunc func(ctx context.Context, p *Post) (*Rendered, error)

func generate(ctx context.Context, render renderFunc, site *Site, cfg *FeedsConfig, snap *Snapshot, now time.Time) (*Output, error) {
	list, renderErr := entries(ctx, render, site, cfg, snap, now)
	if list == nil { // no site or config, or ctx cancelled
		return nil, renderErr
	}
	out, err := Build(site, cfg, list)
	if err != nil {
		return nil, err
	}
	return out, renderErr
}

// entries renders the posts of snap that go in the feeds at now; nil (and
// an error) when site or cfg is missing or ctx is cancelled, else never
// nil, with the render errors joined.
func entries(ctx context.Context, render renderFunc, site *Site, cfg *FeedsConfig, snap *Snapshot, now time.Time) ([]Entry, error) {
	if site == nil || cfg == nil {
		return nil, errors.New("feed: generate: nil site or feeds config")
	}
	due := make([]*Post, 0, len(snap.Posts))
	for _, p := range snap.Posts {
		if p != nil && p.Due(now) {
			due = append(due, p)
		}
	}
	slices.SortFunc(due, func(a, b *Post) int { return compareEntries(Entry{Post: a}, Entry{Post: b}) })

	rendered := make(map[*Post]*Rendered)
	failed := make(map[*Post]bool)
	var errs []error
	var sel []*Post
	// Render in rounds: the selected posts first, then, when some failed,
	// the posts that take their places, until nothing new is selected.
	for {
		sel = selectPosts(due, failed, cfg)
		var todo []*Post
		for _, p := range sel {
			if rendered[p] == nil {
				todo = append(todo, p)
			}
		}
		if len(todo) == 0 {
			break
		}
		results, batchErrs := renderAll(ctx, render, todo)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("feed: generate: %w", err)
		}
		for i, p := range todo {
			if batchErrs[i] != nil {
				failed[p] = true
				err := batchErrs[i]
				if !strings.Contains(err.Error(), p.File) { // Loader.Render's errors name the file already
					err = fmt.Errorf("feed: render %s: %w", p.File, err)
				}
				errs = append(errs, err)
				continue
			}
			rendered[p] = results[i]
		}
	}
	list := make([]Entry, len(sel))
	for i, p := range sel {
		list[i] = Entry{Post: p, Rendered: rendered[p]}
	}
	return list, errors.Join(errs...)
}

// selectPosts returns, in order, the sorted due posts that go in a feed:
// the newest cfg.Limit (all when 0) and, with cfg.Tags, also the newest
// cfg.Limit of each tag, leaving out the failed ones.
func selectPosts(due []*Post, failed map[*Post]bool, cfg *FeedsConfig) []*Post {
	var sel []*Post
	n := 0
	perTag := map[string]int{}
	for _, p := range due {
		if failed[p] {
			continue
		}
		take := cfg.Limit == 0 || n < cfg.Limit
		n++
		for _, c := range cfg.Categories {
			if slices.Contains(p.Categories, c) {
				if perTag["\x00c:"+c] < cfg.Limit || cfg.Limit == 0 {
					take = true
				}
				perTag["\x00c:"+c]++
			}
		}
		if cfg.ByTag != "" {
			for _, t := range p.Tags {
				if perTag["\x00t:"+t] < cfg.Limit || cfg.Limit == 0 {
					take = true
				}
				perTag["\x00t:"+t]++
			}
		}
		if cfg.Tags {
			seen := map[string]bool{}
			for _, t := range p.Tags {
				s := TagSlug(t)
				if s == "" || seen[s] {
					continue
				}
				seen[s] = true
				if perTag[s] < cfg.Limit {
					take = true
				}
				perTag[s]++
			}
		}
		if take {
			sel = append(sel, p)
		}
	}
	return sel
}

// renderAll renders posts on up to GOMAXPROCS workers; results and errors
// are in the order of posts.
func renderAll(ctx context.Context, render renderFunc, posts []*Post) ([]*Rendered, []error) {
	rendered := make([]*Rendered, len(posts))
	errs := make([]error, len(posts))
	workers := min(runtime.GOMAXPROCS(0), len(posts))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				if err := ctx.Err(); err != nil {
					errs[i] = err
					continue
				}
				r, err := render(ctx, posts[i])
				if err == nil && r == nil {
					err = errors.New("no rendered body")
				}
				rendered[i], errs[i] = r, err
			}
		})
	}
	for i := range posts {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return rendered, errs
}
