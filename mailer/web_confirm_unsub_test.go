package mailer

import (
	"bytes"
	"net/mail"
	"regexp"
	"strings"
	"testing"

	"herald/schedule/store"
)

// TestConfirmationCarriesListUnsubscribe: the double opt-in mail has the
// RFC 8058 headers too; one click on it stops the subscription, and the
// confirmation link no longer works afterwards.
func TestConfirmationCarriesListUnsubscribe(t *testing.T) {
	e := newWebEnv(t, "maildir", nil)
	const addr = "never-asked@example.org"
	wantStatus(t, e.subscribeForm(addr, "192.0.2.7:1234"), 200, "Check your inbox")
	mails := e.mails()
	if len(mails) != 1 {
		t.Fatalf("%d mails, want 1", len(mails))
	}
	msg, err := mail.ReadMessage(bytes.NewReader(mails[0]))
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}
	if msg.Header.Get("List-Id") == "" {
		t.Errorf("no List-Id")
	}
	m := regexp.MustCompile(`^<(https://[^>]+)>$`).FindStringSubmatch(msg.Header.Get("List-Unsubscribe"))
	if m == nil {
		t.Fatalf("List-Unsubscribe = %q, want one https URI", msg.Header.Get("List-Unsubscribe"))
	}
	confirm := mailLink(t, mails[0], "confirm")

	rec := e.do("POST", strings.TrimPrefix(m[1], webPublic), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click", "")
	if rec.Code != 200 {
		t.Fatalf("one-click POST: %d", rec.Code)
	}
	wantState(t, e, addr, store.StatusUnsubscribed)
	if rec := e.do("GET", confirm, "", "", ""); rec.Code < 400 {
		t.Errorf("confirm after unsubscribing: %d, want 4xx", rec.Code)
	}
	wantState(t, e, addr, store.StatusUnsubscribed)
}
