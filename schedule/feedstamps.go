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
		if ms, ok := d.opts.Store.(interface {
			Meta(ctx context.Context, key string) (string, error)
		}); ok {
			v, err := ms.Meta(ctx, MetaFeedStamps)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				d.log.Warn("reading the feeds' Last-Modified times", "err", err)
			case len(v) > maxStampsJSON:
				d.log.Warn("stored Last-Modified times too large; starting afresh", "bytes", len(v))
			default:
				if err := json.Unmarshal([]byte(v), &d.stamps); err != nil {
					d.log.Warn("stored Last-Modified times unreadable; starting afresh", "err", err)
					d.stamps = nil
				}
			}
		}
	}
	next := out.Stamp(d.stamps, now)
	if maps.Equal(next, d.stamps) {
		return
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
