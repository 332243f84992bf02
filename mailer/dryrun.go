package mailer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"herald/feed"
	"herald/schedule/store"
)

// Plan is what `herald send -dry-run POST` prints: exactly what `herald
// send POST` would do if run now, subscriber by subscriber.
type Plan struct {
	PostID, Path, Title string
	Subject             string
	Newsletter          bool   // false: the post has `newsletter: false` and would not be mailed
	Skip                string // not "": the send mails nothing, and why (newsletter: false, the mailing was skipped)
	Bytes               int    // size of one message

	Mailing PlanMailing
	// Send lists the subscribers the send delivers the post to, in the
	// order it takes them (the deliveries that exist by due time and id,
	// as it claims them; then the ones its expansion creates, by
	// subscriber id); Recipients is their number.
	Send       []PlanEntry
	Recipients int
	// NotSent lists, in subscriber id order, every subscriber who differs
	// from "everyone confirmed now": confirmed now but not sent to, or
	// not confirmed now but part of the post's mailing; each with the
	// reason.
	NotSent   []PlanEntry
	Confirmed int // subscribers confirmed now
	// OtherWaiting counts the unfinished deliveries of other posts'
	// mailings (pending, retrying, in flight): `herald send` delivers
	// those that are due too.
	OtherWaiting int
	// OtherNew counts the deliveries `herald send` creates (and sends:
	// new deliveries are due at once) for other posts: it makes the
	// mailings of their waiting announcements (in digest mode, the manual
	// ones only) and expands every mailing not expanded yet.
	// OtherMailings is the number of those mailings that get deliveries;
	// OtherHeld says, one line each, the ones that will not (skipped, or
	// waiting for a post that cannot be read).
	OtherNew, OtherMailings int
	OtherHeld               []string
}

// PlanMailing is the mailing `herald send POST` would use.
type PlanMailing struct {
	ID      int64             // 0: none yet (the send creates it)
	Kind    store.MailingKind // post or digest
	Cutoff  time.Time         // only subscribers confirmed by then are included
	New     bool              // the send creates the announcement now: the cutoff is the time of the send
	Expand  bool              // the send creates its deliveries (everyone confirmed by Cutoff, not suppressed, not sent the post before)
	Skipped string            // the mailing was skipped: why
	// ExpandedAt: when its deliveries were created (zero: not yet).
	ExpandedAt time.Time

	snapshot []byte // the post as its announcement keeps it (what the send mails), if any
	// The announcement's record of the post (for a post that cannot be
	// read now).
	title, path string
	// waitsForDigest: an automatic announcement in digest mode, with no
	// mailing yet: only Announce (a send of a post it can read) makes it
	// a mailing of its own; otherwise it waits for the digest.
	waitsForDigest bool
}

// PlanEntry is one subscriber of a Plan.
type PlanEntry struct {
	SubscriberID int64
	Email        string
	Reason       string // why (for NotSent), or what (for Send: "", or "retry, attempt 3", "left in flight by a stopped herald")

	// The send's claim order: due time, then delivery id (0: a delivery
	// the send creates, after every existing one).
	due        time.Time
	deliveryID int64
}

// DryRun reports what `herald send POST` for post postID would do now, and
// sends nothing. It follows the send's own decisions: the announcement it
// would reuse or create, that announcement's mailing and its cutoff (a
// subscriber confirmed after the mailing was created is not included),
// the mailing's deliveries (sent, failed, scheduled for a retry, in
// flight), suppressions and unsubscriptions.
func (m *Mailer) DryRun(ctx context.Context, postID string) (Plan, error) {
	plan := Plan{PostID: postID, Newsletter: true}
	now := m.now().UTC().Truncate(time.Second)
	stats, err := m.db.DeliveryStats(ctx, 0)
	if err != nil {
		return Plan{}, fmt.Errorf("mailer: dry run: %w", err)
	}
	ml, mine, anns, err := m.planMailing(ctx, postID, now, stats)
	if err != nil {
		return Plan{}, fmt.Errorf("mailer: dry run: %w", err)
	}
	plan.Mailing = ml
	var snap *mailSnapshot
	if ml.snapshot != nil {
		snap, _ = decodeSnapshot(ml.snapshot) // one that cannot be read: the send reads the post
	}
	p, perr := m.posts.Post(ctx, postID)
	switch {
	case snap != nil:
		// The post was announced with its snapshot: the send mails that
		// (once its mailing is made, from the announcement), whatever the
		// file says now, or whether it can be read at all.
		m.planFromSnapshot(&plan, snap)
	case perr == nil:
		if err := m.planFromPost(ctx, &plan, p); err != nil {
			return Plan{}, err
		}
	case ml.New || ctx.Err() != nil:
		return Plan{}, fmt.Errorf("mailer: post %s: %w", postID, perr)
	default:
		// Announced without a snapshot (before snapshots existed), and
		// the post cannot be read now: the send's mailing waits for it.
		plan.Title, plan.Path = ml.title, ml.path
		plan.Skip = "its announcement keeps no snapshot and the post cannot be read now (" + perr.Error() +
			"): its mailing waits for the post (up to mail.retry_for), this send mails nothing of it"
	}
	if ml.waitsForDigest && perr != nil && plan.Skip == "" {
		// The send of a post it cannot read does not announce it again,
		// so the waiting announcement stays the digest's.
		plan.Skip = "its announcement waits for the next digest (schedule.digest): the post cannot be read now, so the send does not make it a mailing of its own"
	}
	if ml.Skipped != "" && plan.Skip == "" {
		plan.Skip = "its mailing #" + fmt.Sprint(ml.ID) + " was skipped: " + ml.Skipped
	}
	for _, s := range stats {
		if !mine[s.MailingID] {
			plan.OtherWaiting += s.Pending + s.Retrying
		}
	}
	if err := m.planOthers(ctx, &plan, postID, anns, mine); err != nil {
		return Plan{}, fmt.Errorf("mailer: dry run: %w", err)
	}
	err = m.db.PostCandidates(ctx, postID, func(c store.Candidate) error {
		if c.Status == store.StatusConfirmed {
			plan.Confirmed++
		}
		send, reason, d := decide(c, ml, now)
		listed := send || reason != ""
		switch {
		case plan.Skip != "":
			// Nothing is mailed; a delivery still due would be failed
			// ("not sent: …") by the send, which the Skip says.
		case send:
			e := PlanEntry{SubscriberID: c.ID, Email: c.Email, Reason: reason, due: now}
			if d != nil {
				e.due, e.deliveryID = d.NextAttemptAt, d.ID
			}
			plan.Send = append(plan.Send, e)
		case listed:
			plan.NotSent = append(plan.NotSent, PlanEntry{SubscriberID: c.ID, Email: c.Email, Reason: reason})
		}
		return nil
	})
	if err != nil {
		return Plan{}, fmt.Errorf("mailer: dry run: %w", err)
	}
	slices.SortStableFunc(plan.Send, func(a, b PlanEntry) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		switch {
		case a.deliveryID == b.deliveryID:
			return 0 // both created by the send: subscriber order, kept
		case a.deliveryID == 0:
			return 1
		case b.deliveryID == 0:
			return -1
		}
		return cmp.Compare(a.deliveryID, b.deliveryID)
	})
	plan.Recipients = len(plan.Send)
	return plan, nil
}

// planMailing finds the mailing `herald send POST` would use: the one of
// the post's first queued announcement (Announce reuses it), or a new one
// made from an announcement created now. mine holds the ids of every
// mailing of the post (from stats, every mailing's); anns is every
// announcement.
func (m *Mailer) planMailing(ctx context.Context, postID string, now time.Time, stats []store.MailingStats) (pm PlanMailing, mine map[int64]bool, anns []store.Announcement, err error) {
	anns, err = m.db.Announcements(ctx, 0)
	if err != nil {
		return PlanMailing{}, nil, nil, err
	}
	var first *store.Announcement
	for i := range anns {
		a := &anns[i]
		if a.PostID == postID && a.Queued && (first == nil || a.ID < first.ID) {
			first = a
		}
	}
	mine = map[int64]bool{}
	var mailingID int64
	for _, s := range stats {
		for _, p := range s.Posts {
			if p.PostID != postID {
				continue
			}
			mine[s.MailingID] = true
			if first != nil && p.AnnouncementID == first.ID {
				mailingID = s.MailingID
			}
		}
	}
	switch {
	case first == nil:
		return PlanMailing{Kind: store.KindPost, Cutoff: now, New: true, Expand: true}, mine, anns, nil
	case mailingID == 0:
		// Waiting announcement: the send makes its mailing now, with the
		// announcement's time as the cutoff (a manual or converted one is
		// always a mailing of its own), and mails the snapshot the
		// announcement keeps.
		pm = PlanMailing{Kind: store.KindPost, Cutoff: first.CreatedAt, Expand: true, title: first.Title, path: first.Path,
			waitsForDigest: m.digest && !first.Manual}
		if first.Snapshot {
			if pm.snapshot, err = m.db.AnnouncementSnapshot(ctx, first.ID); err != nil {
				return PlanMailing{}, nil, nil, err
			}
		}
		return pm, mine, anns, nil
	}
	ml, err := m.db.Mailing(ctx, mailingID)
	if err != nil {
		return PlanMailing{}, nil, nil, err
	}
	pm = PlanMailing{ID: ml.ID, Kind: ml.Kind, Cutoff: ml.Cutoff, Expand: ml.ExpandedAt.IsZero(), Skipped: ml.Skipped, ExpandedAt: ml.ExpandedAt,
		title: first.Title, path: first.Path}
	for _, p := range ml.Posts {
		if p.PostID == postID {
			pm.snapshot = p.Snapshot
		}
	}
	return pm, mine, anns, nil
}

// decide is the send's decision for one subscriber, in the send's order:
// a delivery of the post that is still unfinished is sent when due; one
// sent or failed for good is not sent again; without a delivery, the
// mailing's expansion (when the send expands it) takes the subscriber if
// confirmed by the cutoff and not suppressed. A subscriber who is not
// sent to gets a reason when they differ from "everyone confirmed now" (or
// were part of the mailing), and none when they are not worth a line. d is
// the delivery the decision is about; nil when there is none.
func decide(c store.Candidate, ml PlanMailing, now time.Time) (send bool, reason string, d *store.PostDelivery) {
	at := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
	ds := slices.Clone(c.Deliveries)
	// Unfinished first (Drain acts on them), then sent, then failed.
	rank := func(d store.PostDelivery) int {
		switch d.State {
		case store.DeliveryPending, store.DeliveryRetry, store.DeliverySending:
			return 0
		case store.DeliverySent:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(ds, func(a, b store.PostDelivery) int { return rank(a) - rank(b) })
	if len(ds) > 0 {
		d := &ds[0]
		switch d.State {
		case store.DeliveryPending, store.DeliveryRetry:
			if d.NextAttemptAt.After(now) {
				return false, fmt.Sprintf("retry scheduled at %s (after %s): not sent by this run, the daemon sends it then", at(d.NextAttemptAt), attempts(d.Attempts)), d
			}
			if d.Attempts > 0 {
				return true, fmt.Sprintf("retry, attempt %d", d.Attempts+1), d
			}
			return true, "", d
		case store.DeliverySending:
			if !d.LeaseUntil.After(now) {
				return true, "left in flight by a herald process that stopped (lease ended " + at(d.LeaseUntil) + "): sent again, it may reach them twice", d
			}
			return false, "being sent by another herald process (" + d.ClaimedBy + ", lease until " + at(d.LeaseUntil) + "): not sent by this run", d
		case store.DeliverySent:
			return false, "already sent (" + at(d.UpdatedAt) + ")", d
		default:
			return false, fmt.Sprintf("failed permanently (%s, after %s): herald send -retry-failed re-queues it", at(d.UpdatedAt), attempts(d.Attempts)), d
		}
	}
	confirmedByCutoff := !c.ConfirmedAt.IsZero() && !c.ConfirmedAt.After(ml.Cutoff)
	switch {
	case c.Status == store.StatusConfirmed && !confirmedByCutoff:
		return false, "confirmed " + at(c.ConfirmedAt) + ", after the mailing was created (" + at(ml.Cutoff) + "): not included", nil
	case c.Status == store.StatusConfirmed && !c.SuppressedAt.IsZero():
		return false, "bounced: suppressed since " + at(c.SuppressedAt) + " (herald subscribers unsuppress ADDR lifts it)", nil
	case c.Status == store.StatusUnsubscribed && confirmedByCutoff && c.UnsubscribedAt.After(ml.Cutoff):
		return false, "unsubscribed " + at(c.UnsubscribedAt) + ": not sent", nil
	case c.Status != store.StatusConfirmed:
		return false, "", nil // never part of it, and not confirmed now
	case ml.Expand:
		return true, "", nil
	}
	return false, "not in the mailing when its deliveries were created (" + at(ml.ExpandedAt) + "): not included", nil
}

// attempts is "1 attempt", "2 attempts".
func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

// planFromPost sets what plan says of the message from post p as the
// posts folder holds it now: the send announces it now (or its
// announcement keeps no snapshot) and composes from that.
func (m *Mailer) planFromPost(ctx context.Context, plan *Plan, p *feed.Post) error {
	plan.Path, plan.Title, plan.Newsletter = p.Path, p.Title, p.Newsletter
	prep, err := m.prepareLoaded(ctx, p)
	switch {
	case errors.Is(err, feed.ErrNoSection):
		plan.Skip = noSectionReason(p.Path, m.cfg.Section)
	case err != nil:
		return err
	default:
		m.planMessage(plan, prep)
	}
	if !p.Newsletter {
		plan.Skip = "newsletter: false: this post is never mailed"
	}
	return nil
}

// planFromSnapshot sets what plan says of the message from the post as its
// announcement keeps it: the send composes from that.
func (m *Mailer) planFromSnapshot(plan *Plan, snap *mailSnapshot) {
	plan.Title, plan.Path = snap.Title, snap.Path
	plan.Skip, plan.Newsletter, plan.Subject, plan.Bytes = snap.Skip, true, "", 0
	if snap.Skip != "" {
		return
	}
	prep, err := m.composer.Prepare([]PostMail{snap.postMail()})
	if err != nil {
		return
	}
	m.planMessage(plan, prep)
}

// planMessage sets plan's Subject and Bytes from the prepared newsletter
// of its post, addressed to a sample subscriber.
func (m *Mailer) planMessage(plan *Plan, prep *Prepared) {
	plan.Subject = prep.Subject()
	if msg, err := prep.Message(Recipient{Email: "subscriber@" + m.idDomain, UnsubscribeURL: m.unsubscribeURL(1)},
		m.mailingMessageID(1, 1, postsKey([]store.MailingPost{{PostID: plan.PostID}}))); err == nil {
		plan.Bytes = msg.Len()
	}
}
