package schedule

import (
	"context"
	"errors"
	"time"

	"herald/feed"
	"herald/schedule/store"
)

// MailSnapshotter makes the newsletter's snapshot of a post when the post
// is announced (the mailer implements it; main wires it): the bytes are
// stored with the announcement, in its transaction, and the newsletter is
// composed from them, whatever happens to the post's file afterwards.
type MailSnapshotter interface {
	MailSnapshot(ctx context.Context, p *feed.Post) ([]byte, error)
}

// mailSnapshot returns the snapshot of p for its announcement, or nil
// when there is no snapshotter, it fails, or it takes longer than
// Options.SnapshotTimeout (the post is then announced without one, and the
// mailer reads the post when it prepares the mail; a slow post does not
// hold back the scan).
func (d *Daemon) mailSnapshot(ctx context.Context, p *feed.Post) []byte {
	if d.opts.MailSnapshot == nil {
		return nil
	}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1) // the snapshot may finish after the scan gave up on it
	go func() {
		b, err := d.opts.MailSnapshot.MailSnapshot(ctx, p)
		done <- result{b, err}
	}()
	wait := d.opts.SnapshotTimeout
	if wait <= 0 {
		wait = feed.DefaultRenderTimeout
	}
	timer := d.clock.NewTimer(wait)
	defer timer.Stop()
	var r result
	select {
	case r = <-done:
	case <-timer.C():
		d.log.Warn("the newsletter's snapshot of a post being announced takes too long (posts.render_timeout); the mail will be made from the post when it is sent",
			"path", p.Path, "timeout", wait)
		return nil
	case <-ctx.Done():
		return nil
	}
	b, err := r.b, r.err
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("cannot take the newsletter's snapshot of a post being announced; the mail will be made from the post when it is sent",
				"path", p.Path, "err", err)
		}
		return nil
	}
	return b
}

// metaReader is the part of the store that tells whether the database is
// seeded yet (the store's first-run rule).
type metaReader interface {
	Meta(ctx context.Context, key string) (string, error)
}

// archiveBefore returns, while the database is not seeded yet and
// mail.backfill is off, the time before which a due post is recorded as
// the blog's archive, without mail: such a post needs no snapshot, and a
// first run on a large archive renders none. Zero when every announcement
// may be queued for mail (or when it cannot tell: then every announced
// post gets its snapshot).
func (d *Daemon) archiveBefore(ctx context.Context, now time.Time) time.Time {
	if d.opts.Backfill || d.seeded {
		return time.Time{}
	}
	mr, ok := d.opts.Store.(metaReader)
	if !ok {
		return time.Time{}
	}
	if _, err := mr.Meta(ctx, store.MetaSeeded); err == nil {
		d.seeded = true
		return time.Time{}
	} else if !errors.Is(err, store.ErrNotFound) {
		return time.Time{}
	}
	v, err := mr.Meta(ctx, store.MetaFirstRun)
	if errors.Is(err, store.ErrNotFound) {
		return now // this scan's Record is the first run
	}
	if err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}
	}
	return t
}

// WithEdits returns snap with each post's Updated set to its edit time
// (store.PostState.EditedAt: when a change of the published post was first
// seen) where the post sets no updated/last_modified_at itself, so that a
// feed entry's updated follows an edit. The posts changed are copies; snap
// is returned as it is when no post has an edit time.
func WithEdits(snap *feed.Snapshot, edited func(id string) time.Time) *feed.Snapshot {
	if snap == nil || edited == nil {
		return snap
	}
	var out *feed.Snapshot
	for i, p := range snap.Posts {
		if p == nil || !p.Updated.IsZero() {
			continue
		}
		at := edited(p.ID)
		if at.IsZero() {
			continue
		}
		if out == nil {
			c := *snap
			c.Posts = append([]*feed.Post(nil), snap.Posts...)
			out = &c
		}
		cp := *p
		cp.Updated = at.In(p.Date.Location())
		out.Posts[i] = &cp
	}
	if out == nil {
		return snap
	}
	return out
}

// editedAt is the edit time the database keeps for post id (zero: none).
func (d *Daemon) editedAt(id string) time.Time { return d.known[id].EditedAt }
