package feed

import (
	"context"
	"fmt"
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
