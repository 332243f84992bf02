package mailer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"herald/schedule/store"
)

// unsubscribeURL is the per-subscriber one-click unsubscribe link. Its
// token never expires.
func (m *Mailer) unsubscribeURL(subscriberID int64) string {
	if subscriberID <= 0 {
		return m.publicURL + "/unsubscribe?" + testLinkParam
	}
	return m.publicURL + "/unsubscribe?token=" + Token(m.secret, PurposeUnsubscribe, subscriberID, time.Time{})
}

// testLinkParam marks the unsubscribe link of a mail to an address that is
// no subscriber (herald send -to, herald preview): the page it opens says
// so instead of "This link is not valid".
const testLinkParam = "test"

// messageID is the Message-ID (without <>) of a preview or test message
// ("herald.KIND.A.INSTALL.MAC@domain"); mailingMessageID that of a mailing's
// message to a subscriber.
func (m *Mailer) messageID(kind string, a, b int64) string {
	return "herald." + kind + "." + strconv.FormatInt(a, 10) + "." + m.install() + "." +
		messageIDMAC(m.secret, kind, a, b, "", m.install()) + "@" + m.idDomain
}

// mailingMessageID is the Message-ID (without <>) of mailing's message to
// subscriber: "herald.MAILING.SUBSCRIBER.POSTS.INSTALL.MAC@domain", where
// POSTS is a hash of the mailing's post ids (postsKey) and INSTALL the
// database's install id. Deterministic, so a message re-sent after a crash
// carries the same Message-ID (and receivers may drop the duplicate); it
// never repeats for another post or another database, also when a database
// is reset and its mailing and subscriber ids start again at 1 with the
// same secret (receivers that drop duplicate Message-IDs would drop the new
// newsletter). The MAC (keyed with the secret) lets bounce processing
// trust the ids it reads back (matchMessageID).
func (m *Mailer) mailingMessageID(mailing, subscriber int64, posts string) string {
	return "herald." + strconv.FormatInt(mailing, 10) + "." + strconv.FormatInt(subscriber, 10) + "." + posts + "." +
		m.install() + "." + messageIDMAC(m.secret, "mailing", mailing, subscriber, posts, m.install()) + "@" + m.idDomain
}

// install is the install id as it appears in Message-IDs.
func (m *Mailer) install() string {
	if m.installID == "" {
		return "0"
	}
	return m.installID
}

// messageIDMAC is the 8 hex digits that sign a Message-ID's parts.
func messageIDMAC(secret []byte, kind string, a, b int64, posts, install string) string {
	h := hmac.New(sha256.New, secret)
	fmt.Fprintf(h, "message-id|%s|%d|%d|%s|%s", kind, a, b, posts, install)
	return hex.EncodeToString(h.Sum(nil)[:4])
}

// postsKey is 8 hex digits of a hash of a mailing's post ids.
func postsKey(posts []store.MailingPost) string {
	h := sha256.New()
	for _, p := range posts {
		h.Write([]byte(p.PostID))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:4])
}
