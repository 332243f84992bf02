package feed

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Generate builds the feeds of snap at now. It scans nothing: it keeps the
// posts that are Due(now), takes the newest cfg.Limit of them (0 = all),
// renders only those with l.Render on runtime.GOMAXPROCS(0) workers, and
// calls Build. A post that fails to render is left out and the next due
// post takes its place, so a feed still holds cfg.Limit posts when there
// are enough. When some posts failed, Generate returns the Output of the
// others together with an error joining one error per failed post (each
// naming its file); callers should still publish the Output. A cancelled ctx
// returns no Output and ctx's error.
func Generate(ctx context.Context, l *Loader, site *Site, cfg *FeedsConfig, snap *Snapshot, now time.Time) (*Output, error) {
	if l == nil || snap == nil {
		return nil, errors.New("feed: generate: nil loader or snapshot")
	}
	return generate(ctx, l.Render, site, cfg, snap, now)
}

// renderFunc renders one post; Loader.Render in production.
type renderFunc func(ctx context.Context, p *Post) (*Rendered, error)

func generate(ctx context.Context, render renderFunc, site *Site, cfg *FeedsConfig, snap *Snapshot, now time.Time) (*Output, error) {
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

	want := len(due)
	if cfg.Limit > 0 && cfg.Limit < want {
		want = cfg.Limit
	}
	entries := make([]Entry, 0, want)
	var errs []error
	// Render in rounds: the newest `want` posts first, then as many of the
	// next ones as failed, until the feed is full or the posts run out.
	for next := 0; len(entries) < want && next < len(due); {
		batch := due[next:min(len(due), next+want-len(entries))]
		next += len(batch)
		rendered, batchErrs := renderAll(ctx, render, batch)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("feed: generate: %w", err)
		}
		for i, p := range batch {
			if batchErrs[i] != nil {
				errs = append(errs, fmt.Errorf("feed: render %s: %w", p.File, batchErrs[i]))
				continue
			}
			entries = append(entries, Entry{Post: p, Rendered: rendered[i]})
		}
	}
	out, err := Build(site, cfg, entries)
	if err != nil {
		return nil, err
	}
	return out, errors.Join(errs...)
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
