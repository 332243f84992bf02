package mailer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"herald/schedule/store"
)

// planOthers counts what `herald send POST` does for the other posts before
// it sends (plan.OtherNew, OtherMailings, OtherHeld), as its queue step
// does it: a mailing for each waiting announcement of another post (one
// each, cut off at the announcement's time; in digest mode only the manual
// ones, the others wait for the digest), then the expansion of every
// mailing not expanded yet. A mailing whose posts are not to be mailed is
// skipped, one whose post cannot be read (and whose announcement keeps no
// snapshot) waits: neither gets deliveries. An expansion creates one
// delivery per subscriber confirmed by the mailing's cutoff and not
// suppressed who has no delivery of its post yet (a digest: no such
// exclusion), as store.ExpandMailing does.
func (m *Mailer) planOthers(ctx context.Context, plan *Plan, postID string, anns []store.Announcement, mine map[int64]bool) error {
	now := m.now().UTC().Truncate(time.Second)
	var todo []store.Mailing
	var unexpanded []int64
	for i := len(anns) - 1; i >= 0; i-- { // oldest first, as the send takes them
		a := anns[i]
		switch {
		case a.PostID == postID || !a.Queued || mine[a.MailingID]:
		case a.MailedAt.IsZero() && a.MailingID == 0:
			if m.digest && !a.Manual {
				continue // waits for the digest: the send leaves it
			}
			mp := store.MailingPost{AnnouncementID: a.ID, PostID: a.PostID, Path: a.Path, Title: a.Title, URL: a.URL, Date: a.Date}
			if a.Snapshot {
				snap, err := m.db.AnnouncementSnapshot(ctx, a.ID)
				if err != nil {
					return err
				}
				mp.Snapshot = snap
			}
			todo = append(todo, store.Mailing{Kind: store.KindPost, CreatedAt: now, Cutoff: a.CreatedAt, Posts: []store.MailingPost{mp}})
		case a.MailingID != 0 && !a.Expanded && a.Skipped == "" && !slices.Contains(unexpanded, a.MailingID):
			unexpanded = append(unexpanded, a.MailingID)
		}
	}
	for _, id := range unexpanded {
		ml, err := m.db.Mailing(ctx, id)
		if err != nil {
			return err
		}
		todo = append(todo, ml)
	}
	for _, ml := range todo {
		if len(ml.Posts) == 0 {
			continue
		}
		name := ml.Posts[0].Path
		if len(ml.Posts) > 1 {
			name = fmt.Sprintf("the digest #%d (%d posts)", ml.ID, len(ml.Posts))
		}
		_, err := m.mailPosts(ctx, ml)
		var (
			unreadable *errUnreadable
			skip       errSkip
		)
		switch {
		case errors.As(err, &unreadable):
			plan.OtherHeld = append(plan.OtherHeld, name+": its mailing waits: "+unreadable.Error())
			continue
		case errors.As(err, &skip):
			plan.OtherHeld = append(plan.OtherHeld, name+": its mailing is skipped: "+string(skip))
			continue
		case err != nil:
			plan.OtherHeld = append(plan.OtherHeld, name+": its mailing cannot be prepared now: "+err.Error())
			continue
		}
		n := 0
		err = m.db.PostCandidates(ctx, ml.Posts[0].PostID, func(c store.Candidate) error {
			if c.Status == store.StatusConfirmed && !c.ConfirmedAt.IsZero() && !c.ConfirmedAt.After(ml.Cutoff) &&
				c.SuppressedAt.IsZero() && (ml.Kind == store.KindDigest || len(c.Deliveries) == 0) {
				n++
			}
			return nil
		})
		if err != nil {
			return err
		}
		if n > 0 {
			plan.OtherNew += n
			plan.OtherMailings++
		}
	}
	return nil
}
