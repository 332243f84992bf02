package mailer

import (
	"context"
	"fmt"

	"herald/schedule/store"
)

// A Preview is the newsletter of one post as a sample subscriber gets it:
// the complete message and its two bodies, decoded.
type Preview struct {
	*Message
	Text string // the text/plain body
	HTML string // the text/html body
}

// Preview returns the complete message a subscriber would get for post
// postID, addressed to a sample subscriber (site.email, else
// "subscriber@" the From domain) with a sample unsubscribe link, and its
// bodies. It ignores `newsletter: false`.
func (m *Mailer) Preview(ctx context.Context, postID string) (*Preview, error) {
	prep, err := m.preparePost(ctx, postID)
	if err != nil {
		return nil, err
	}
	to := "subscriber@" + m.idDomain
	if m.site != nil && m.site.Email != "" {
		if e, _, err := ParseAddress(m.site.Email); err == nil {
			to = e
		}
	}
	r := Recipient{Email: to, UnsubscribeURL: m.unsubscribeURL(0)}
	msg, err := prep.Message(r, m.messageID("preview", postKey(postID), 0))
	if err != nil {
		return nil, err
	}
	text, html, err := prep.Parts(r)
	if err != nil {
		return nil, err
	}
	return &Preview{Message: msg, Text: text, HTML: html}, nil
}

// subscriberLookup is what SendTest uses, when the store has it, to give a
// test mail to a subscriber their own unsubscribe link.
type subscriberLookup interface {
	Subscriber(ctx context.Context, email string) (store.Subscriber, error)
}

// SendTest sends post postID's newsletter to addr only, now, through the
// configured transport. Nothing is recorded: it is not a delivery and addr
// need not be a subscriber. When addr is a subscriber, its unsubscribe link
// is theirs (and works); otherwise it belongs to no subscriber.
func (m *Mailer) SendTest(ctx context.Context, postID, addr string) error {
	email, name, err := ParseAddress(addr)
	if err != nil {
		return err
	}
	prep, err := m.preparePost(ctx, postID)
	if err != nil {
		return err
	}
	var subID int64
	if sl, ok := m.db.(subscriberLookup); ok {
		if s, err := sl.Subscriber(ctx, email); err == nil {
			subID = s.ID
		}
	}
	msg, err := prep.Message(Recipient{Email: email, Name: name, UnsubscribeURL: m.unsubscribeURL(subID)},
		m.messageID("test", postKey(postID), m.now().UnixNano()))
	if err != nil {
		return err
	}
	conn, err := m.transport.Open(ctx)
	if err != nil {
		return fmt.Errorf("mailer: test send to %s: %w", email, err)
	}
	if err := conn.Send(ctx, msg); err != nil {
		conn.Close()
		return fmt.Errorf("mailer: test send to %s: %w", email, err)
	}
	if err := conn.Close(); err != nil {
		m.log.Warn("test send: closing connection", "err", err)
	}
	m.log.Info("test message sent", "post", postID, "to", email, "message_id", msg.ID())
	return nil
}
