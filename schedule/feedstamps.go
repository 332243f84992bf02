package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"time"

	"herald/feed"
	"herald/schedule/store"
)

// MetaFeedStamps is the meta key holding, as JSON, when each served feed
// file's bytes last changed (feed.Stamp by file name): the Last-Modified
// the feeds are served with, kept so that a restart does not move it.
const MetaFeedStamps = "feed_stamps"

// maxStampsJSON bounds the stored stamps read back (a few hundred feeds).
const maxStampsJSON = 1 << 20

// stampFeeds sets the Last-Modified of out's files to when their bytes last
// changed (feed.Output.Stamp) and persists the stamps when they changed.
// Called with scanMu held. A database that cannot be read or written costs
// only the persistence: the stamps are still kept in memory.
func (d *Daemon) stampFeeds(ctx context.Context, out *feed.Output, now time.Time) {
	if !d.stampsLoaded {
		d.stampsLoaded = true
		d.stamps, _ = d.readStamps(ctx)
	}
	next := out.Stamp(d.stamps, now)
	if maps.Equal(next, d.stamps) {
		return
	}
	// New bytes here. Another daemon on the database may have served the
	// same bytes already (its copy of the posts changed first): its time
	// is kept, so that every daemon sends the same Last-Modified.
	if stored, ok := d.readStamps(ctx); ok {
		prev := maps.Clone(d.stamps)
		if prev == nil {
			prev = map[string]feed.Stamp{}
		}
		for name, st := range stored {
			if n, ok := next[name]; ok && n.ETag == st.ETag {
				prev[name] = st
			}
		}
		next = out.Stamp(prev, now)
	}
	d.stamps = next
	b, err := json.Marshal(next)
	if err == nil {
		err = d.opts.Store.SetMeta(ctx, MetaFeedStamps, string(b))
	}
	if err != nil {
		d.log.Warn("saving the feeds' Last-Modified times", "err", err)
	}
}

// readStamps reads the stamps kept in the store; ok false when there are
// none or they cannot be read.
func (d *Daemon) readStamps(ctx context.Context) (stamps map[string]feed.Stamp, ok bool) {
	ms, hasMeta := d.opts.Store.(metaReader)
	if !hasMeta {
		return nil, false
	}
	v, err := ms.Meta(ctx, MetaFeedStamps)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, false
	case err != nil:
		d.log.Warn("reading the feeds' Last-Modified times", "err", err)
		return nil, false
	case len(v) > maxStampsJSON:
		d.log.Warn("stored Last-Modified times too large; starting afresh", "bytes", len(v))
		return nil, false
	}
	if err := json.Unmarshal([]byte(v), &stamps); err != nil {
		d.log.Warn("stored Last-Modified times unreadable; starting afresh", "err", err)
		return nil, false
	}
	return stamps, true
}
