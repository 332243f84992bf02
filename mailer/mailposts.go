package mailer

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"herald/feed"
	"herald/schedule/store"
)

// errUnreadable marks a mailing one of whose posts cannot be found or
// read right now (being edited, renamed, its front matter briefly
// invalid): a temporary condition. The mailing waits (unexpanded, or its
// deliveries put off without failing) until the post can be read again,
// for at most mail.retry_for after the mailing was queued.
type errUnreadable struct {
	post string
	err  error
}

func (e *errUnreadable) Error() string { return "post " + e.post + " cannot be read: " + e.err.Error() }
func (e *errUnreadable) Unwrap() error { return e.err }

// unreadableFor is how long a mailing waits for a post that cannot be read
// before it is skipped: mail.retry_for.
func (m *Mailer) unreadableFor() time.Duration {
	if d := m.cfg.RetryFor.Duration; d > 0 {
		return d
	}
	return 72 * time.Hour
}

// errSkip marks a mailing that sends nothing; its text is the reason.
type errSkip string

func (e errSkip) Error() string { return string(e) }

// mailPosts loads the posts of a mailing and renders their sections, in the
// mailing's (date) order. Posts with `newsletter: false` and posts that no
// longer exist are left out; when none is left it returns an errSkip.
func (m *Mailer) mailPosts(ctx context.Context, ml store.Mailing) ([]PostMail, error) {
	var (
		out     []PostMail
		reasons []string
	)
	for _, mp := range ml.Posts {
		if mp.Snapshot != nil {
			// Announced with a snapshot: mailed as it was announced,
			// whatever the posts folder holds now.
			s, err := decodeSnapshot(mp.Snapshot)
			if err == nil {
				if s.Skip != "" {
					reasons = append(reasons, s.Skip)
					continue
				}
				out = append(out, s.postMail())
				continue
			}
			m.log.Warn("mailing: the post's snapshot cannot be read; reading the post instead", "mailing", ml.ID, "post", mp.PostID, "err", err)
		}
		p, err := m.posts.Post(ctx, mp.PostID)
		if err != nil && ctx.Err() == nil && m.now().Sub(ml.CreatedAt) < m.unreadableFor() {
			// Perhaps being edited, renamed or briefly invalid: wait for it.
			return nil, &errUnreadable{post: cmp.Or(mp.Path, mp.PostID), err: err}
		}
		if errors.Is(err, feed.ErrNotFound) {
			m.log.Warn("mailing: post no longer exists, left out", "mailing", ml.ID, "post", mp.PostID, "path", mp.Path)
			reasons = append(reasons, "post "+mp.PostID+" no longer exists (could not be read since the mailing was queued, "+m.unreadableFor().String()+")")
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("mailer: mailing %d: post %s: %w", ml.ID, mp.PostID, err)
		}
		if !p.Newsletter {
			reasons = append(reasons, "newsletter: false in "+p.Path)
			continue
		}
		sec, err := m.posts.Section(ctx, p, m.cfg.Section, int(m.cfg.MaxSection))
		if errors.Is(err, feed.ErrNoSection) {
			// Nothing to mail, and no retry will find something: decided
			// once, the post is left out (the mailing skipped when it was
			// the only one), never retried pass after pass.
			m.log.Warn("mailing: post has nothing to mail, left out", "mailing", ml.ID, "post", mp.PostID, "path", p.Path, "section", m.cfg.Section)
			reasons = append(reasons, noSectionReason(p.Path, m.cfg.Section))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("mailer: mailing %d: section of %s: %w", ml.ID, p.Path, err)
		}
		out = append(out, PostMail{Title: p.Title, URL: p.URL, Date: p.Date, Section: sec})
	}
	if len(out) == 0 {
		if len(reasons) == 0 {
			reasons = append(reasons, "no posts")
		}
		return nil, errSkip(strings.Join(reasons, "; "))
	}
	return out, nil
}

// preparePost renders the newsletter of one post, for Preview and SendTest
// (which ignore `newsletter: false`).
func (m *Mailer) preparePost(ctx context.Context, postID string) (*Prepared, error) {
	p, err := m.posts.Post(ctx, postID)
	if err != nil {
		return nil, fmt.Errorf("mailer: post %s: %w", postID, err)
	}
	return m.prepareLoaded(ctx, p)
}

// prepareLoaded renders the newsletter of post p, already read (DryRun
// reports `newsletter: false` instead of ignoring it).
func (m *Mailer) prepareLoaded(ctx context.Context, p *feed.Post) (*Prepared, error) {
	sec, err := m.posts.Section(ctx, p, m.cfg.Section, int(m.cfg.MaxSection))
	if err != nil {
		return nil, fmt.Errorf("mailer: section of %s: %w", p.Path, err)
	}
	return m.composer.Prepare([]PostMail{{Title: p.Title, URL: p.URL, Date: p.Date, Section: sec}})
}

// postKey is a short stable number for a post id (Message-IDs of previews).
func postKey(id string) int64 {
	s := sha256.Sum256([]byte(id))
	var n int64
	for _, b := range s[:7] {
		n = n<<8 | int64(b)
	}
	return n
}
