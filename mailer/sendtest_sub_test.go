package mailer

import (
	"net/url"
	"strings"
	"testing"

	"herald/schedule/store"
)

// TestSendTestToSubscriberHasTheirUnsubscribeLink: a test mail sent to a
// subscriber's own address carries a working unsubscribe token for them;
// to anyone else, a token that names no subscriber.
func TestSendTestToSubscriberHasTheirUnsubscribeLink(t *testing.T) {
	e := newTestEnv(t, testSMTPOptions{})
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
		case tc.wantID == 0 && err == nil:
			t.Errorf("%s: token names subscriber %d, want an invalid token", tc.addr, id)
		case tc.wantID != 0 && (err != nil || id != tc.wantID):
			t.Errorf("%s: token names subscriber %d (%v), want %d", tc.addr, id, err, tc.wantID)
		}
	}
}
