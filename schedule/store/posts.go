package store

import (
	"time"
)

// PostState is a post as the database remembers it.
type PostState struct {
	ID, Path, Slug, Title, URL, Hash string
	// Date is the publication date; FirstSeen the first time the post was
	// recorded; AnnouncedAt when it was announced, zero: never. UTC, seconds.
	Date, FirstSeen, AnnouncedAt time.Time
}

// SeenPost is a post as the daemon sees it in the posts folder.
type SeenPost struct {
	ID, Path, Slug, Title, URL, Hash string
	Date                             time.Time
	Due                              bool // published and date <= now
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
}

// RecordResult is what one Record call did.
type RecordResult struct {
	Announced []Announcement // newly announced by this call, date order
	Seeded    bool           // this call was the first run: due posts were recorded without queueing mail (unless backfill)
}
