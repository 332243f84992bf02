package store

import (
	"time"
)

// Meta keys of the first-run rule (Record): MetaFirstRun holds the time of
// the first Record on the database, MetaSeeded that of the first Record
// that held a due post (both RFC 3339, UTC). Until the database is seeded,
// a due post dated before the first run is the blog's archive, recorded
// without mail (unless backfill).
const (
	MetaFirstRun = "first_run_at"
	MetaSeeded   = "seeded"
)

// PostState is a post as the database remembers it.
type PostState struct {
	ID, Path, Slug, Title, URL, Hash string
	// Date is the publication date; FirstSeen the first time the post was
	// recorded; AnnouncedAt when it was announced, zero: never. UTC, seconds.
	Date, FirstSeen, AnnouncedAt time.Time
	// EditedAt is when a change of the post's content (Hash) was first
	// recorded after the post was announced (published); zero: never
	// edited since. The feeds show it as the entry's updated time (unless
	// the post sets last_modified_at), so it is kept here: a restart, or
	// another daemon, gives the same feed bytes.
	EditedAt time.Time
}

// SeenPost is a post as the daemon sees it in the posts folder.
type SeenPost struct {
	ID, Path, Slug, Title, URL, Hash string
	Date                             time.Time
	Due                              bool // published and date <= now
	// Mail is the newsletter's snapshot of the post (opaque to the store:
	// the mailer makes and reads it), stored with the post's announcement
	// when one is queued for mail by this call, in the same transaction.
	// nil: none (the mailer then reads the posts folder when it sends).
	Mail []byte
}

// Announcement is one announcement of a post: a row of the newsletter's queue.
type Announcement struct {
	ID                       int64
	PostID, Path, Title, URL string
	Date, CreatedAt          time.Time // UTC, seconds
	// Queued false: recorded as announced without mail (first-run seeding).
	Queued bool
	// Manual: made by Announce (`herald send POST`) rather than by Record.
	Manual bool
	// MailedAt is when the mailer took the announcement off the queue
	// (set by the mail code); zero: not yet.
	MailedAt time.Time
	// Snapshot: the announcement carries the newsletter's snapshot of the
	// post (SeenPost.Mail).
	Snapshot bool
	// The announcement's mailing, once MailedAt is set: its id, whether
	// its deliveries were created (Expanded), why it sends nothing
	// (Skipped), or why it waits (WaitReason, until about WaitUntil).
	MailingID  int64
	Expanded   bool
	Skipped    string
	WaitReason string
	WaitUntil  time.Time
}

// RecordResult is what one Record call did.
type RecordResult struct {
	Announced []Announcement // newly announced by this call, date order
	Seeded    bool           // this call was the first run: due posts were recorded without queueing mail (unless backfill)
	// Edited holds, for each post passed to this call that has an edit
	// time (PostState.EditedAt), that time: set by this call when the
	// post's Hash changed after it was announced, or earlier (by another
	// daemon, or before a restart).
	Edited map[string]time.Time
}
