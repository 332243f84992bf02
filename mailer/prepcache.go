package mailer

import (
	"context"
	"sync"
	"time"
)

// prepCache renders each mailing once per pass (section rendering and
// Prepare); workers then only fill in the recipient.
type prepCache struct {
	m       *Mailer
	mu      sync.Mutex
	entries map[int64]*prepEntry
}

type prepEntry struct {
	once  sync.Once
	p     *Prepared
	posts string // postsKey of the mailing's posts, for its Message-IDs
	err   error
}

func (c *prepCache) get(ctx context.Context, mailingID int64) (*Prepared, string, error) {
	c.mu.Lock()
	e := c.entries[mailingID]
	if e == nil {
		e = new(prepEntry)
		c.entries[mailingID] = e
	}
	c.mu.Unlock()
	e.once.Do(func() {
		ml, err := c.m.db.Mailing(ctx, mailingID)
		if err != nil {
			e.err = err
			return
		}
		e.posts = postsKey(ml.Posts)
		posts, err := c.m.mailPosts(ctx, ml)
		if err != nil {
			e.err = err
			return
		}
		if ml.WaitReason != "" { // its post is back: it no longer waits
			c.m.waitDone(mailingID)
			c.m.dbmu.Lock()
			if err := c.m.db.SetMailingWait(ctx, mailingID, "", time.Time{}); err != nil {
				c.m.log.Error("mail: clearing a mailing's wait", "mailing", mailingID, "err", err)
			}
			c.m.dbmu.Unlock()
		}
		e.p, e.err = c.m.composer.Prepare(posts)
	})
	return e.p, e.posts, e.err
}
