package mailer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"herald/feed"
)

// snapshotVersion is the version of the snapshot encoding; a snapshot of
// another version is not trusted (the mailer reads the post instead).
const snapshotVersion = 1

// mailSnapshot is what the newsletter needs of a post, taken when the post
// is announced (MailSnapshot) and stored with its announcement: the mailer
// composes from it and never reads the posts folder again for that
// announcement, so a post broken, renamed or edited after its announcement
// is mailed as it was announced.
type mailSnapshot struct {
	V     int       `json:"v"`
	Path  string    `json:"path"`
	Title string    `json:"title"`
	URL   string    `json:"url"`
	Date  time.Time `json:"date"`
	// Skip says why the post is not mailed (newsletter: false, nothing
	// to mail); "" when it is.
	Skip    string           `json:"skip,omitempty"`
	Section *snapshotSection `json:"section,omitempty"`
}

// snapshotSection is a feed.Section in the snapshot.
type snapshotSection struct {
	Heading   string `json:"heading,omitempty"`
	HTML      string `json:"html"`
	Text      string `json:"text"`
	Fallback  bool   `json:"fallback,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
}

// MailSnapshot returns the snapshot of post p that its announcement keeps
// (the daemon calls it when it announces a post, `herald send POST` when
// it queues one): the mailed section (mail.section) rendered and bounded
// to mail.max_section, with the title, URL and date the mail shows, or the
// reason it is not mailed (newsletter: false; no section, description or
// paragraph to mail). An error means the post cannot be rendered now.
func (m *Mailer) MailSnapshot(ctx context.Context, p *feed.Post) ([]byte, error) {
	s := mailSnapshot{V: snapshotVersion, Path: p.Path, Title: p.Title, URL: p.URL, Date: p.Date}
	if !p.Newsletter {
		s.Skip = "newsletter: false in " + p.Path
		return json.Marshal(s)
	}
	switch sec, err := m.posts.Section(ctx, p, m.cfg.Section, int(m.cfg.MaxSection)); {
	case errors.Is(err, feed.ErrNoSection):
		s.Skip = noSectionReason(p.Path, m.cfg.Section)
	case err != nil:
		return nil, fmt.Errorf("mailer: snapshot of %s: %w", p.Path, err)
	default:
		s.Section = &snapshotSection{Heading: sec.Heading, HTML: sec.HTML, Text: sec.Text, Fallback: sec.Fallback, Truncated: sec.Truncated}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("mailer: snapshot of %s: %w", p.Path, err)
	}
	return b, nil
}

// noSectionReason is why a post with nothing to mail is left out.
func noSectionReason(path, section string) string {
	return "nothing to mail in " + path + ": no " + strconv.Quote(section) + " section, description or first paragraph"
}

// decodeSnapshot reads a snapshot MailSnapshot made.
func decodeSnapshot(b []byte) (*mailSnapshot, error) {
	var s mailSnapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("mailer: snapshot: %w", err)
	}
	if s.V != snapshotVersion {
		return nil, fmt.Errorf("mailer: snapshot version %d, want %d", s.V, snapshotVersion)
	}
	if s.Skip == "" && s.Section == nil {
		return nil, errors.New("mailer: snapshot without a section")
	}
	return &s, nil
}

// postMail is the part of the mail the snapshot gives.
func (s *mailSnapshot) postMail() PostMail {
	pm := PostMail{Title: s.Title, URL: s.URL, Date: s.Date}
	if sec := s.Section; sec != nil {
		pm.Section = &feed.Section{Heading: sec.Heading, HTML: sec.HTML, Text: sec.Text, Fallback: sec.Fallback, Truncated: sec.Truncated}
	}
	return pm
}
