package mailer

import (
	"net/url"
	"strings"
	"testing"

	"herald/mailer/smtptest"
	"herald/schedule/store"
)

// TestSendTestToSubscriberHasTheirUnsubscribeLink: a test mail sent to a
// subscriber's own address carries a working unsubscribe token for them;
// to anyone else, a token that names no subscriber.
func TestSendTestToSubscriberHasTheirUnsubscribeLink(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	addrs := e.subscribe(t, "sub", 2, store.StatusConfirmed)
	e.addPost("p", workerT0, true)
	m := e.mailer(t, nil)
	sub, err := e.db.Subscriber(e.ctx, addrs[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr   string
		wantID int64
	}{
		{addrs[1], sub.ID},
		{"stranger@example.net", 0},
	} {
		if err := m.SendTest(e.ctx, "p", tc.addr); err != nil {
			t.Fatal(err)
		}
		msgs := e.srv.Messages()
		h, _, _ := parseMessage(t, msgs[len(msgs)-1].Data)
		lu := h.Get("List-Unsubscribe")
		i := strings.Index(lu, "https://")
		if i < 0 {
			t.Fatalf("List-Unsubscribe = %q", lu)
		}
		u, err := url.Parse(strings.SplitN(lu[i:], ">", 2)[0])
		if err != nil {
			t.Fatal(err)
		}
		id, err := ParseToken(e.secret, PurposeUnsubscribe, u.Query().Get("token"), workerT0)
		switch {
		case tc.wantID == 0 && (u.Query().Has("token") || !u.Query().Has(testLinkParam)):
			t.Errorf("%s: unsubscribe link %s, want the test-mail link (no token)", tc.addr, u)
		case tc.wantID != 0 && (err != nil || id != tc.wantID):
			t.Errorf("%s: token names subscriber %d (%v), want %d", tc.addr, id, err, tc.wantID)
		}
	}
}

// TestTestMailUnsubscribeLinkExplainsItself: the unsubscribe link of a
// test mail to an address that is no subscriber opens a page saying so
// (not "This link is not valid"), by GET and by one-click POST.
func TestTestMailUnsubscribeLinkExplainsItself(t *testing.T) {
	e := newWebEnv(t, "maildir", nil)
	link := strings.TrimPrefix((&Mailer{publicURL: webPublic}).unsubscribeURL(0), webPublic)
	wantStatus(t, e.do("GET", link, "", "", ""), 200, "This was a test mail", "not subscribed")
	wantStatus(t, e.do("POST", link, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click", ""), 200, "This was a test mail")
	// A real token still wins over the marker.
	wantStatus(t, e.do("GET", "/unsubscribe?test&token=forged", "", "", ""), 400, "not valid")
}
