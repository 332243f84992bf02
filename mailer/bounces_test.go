package mailer

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/mail"
	"strings"
	"testing"
	"time"

	"herald/mailer/bounce"
	"herald/mailer/smtptest"
	"herald/schedule/store"
)

// dsn is a minimal RFC 3464 report to rcpt (the bounce address the MTA
// returns it to) about final, quoting messageID.
func dsn(rcpt, final, status, messageID string) []byte {
	return []byte(strings.ReplaceAll(fmt.Sprintf(`From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: %s
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; %s
Action: failed
Status: %s
Diagnostic-Code: smtp; %s3 %s mailbox problem

--B
Content-Type: text/rfc822-headers

From: Blog <news@example.com>
To: %s
Subject: A post
Message-ID: <%s>

--B--
`, rcpt, final, status, status[:1]+"5", status, final, messageID), "\n", "\r\n"))
}

func (e *testEnv) bounces(t *testing.T) *Bounces {
	t.Helper()
	c := bounce.Default()
	b, err := NewBounces(BouncesOptions{Store: e.db, Config: &c, BounceAddress: e.cfg.BounceAddress, Secret: e.secret, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sent returns the envelope sender and Message-ID of each captured
// message, by recipient.
func (e *testEnv) sent(t *testing.T) map[string][2]string {
	t.Helper()
	out := map[string][2]string{}
	for _, m := range e.srv.Messages() {
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		out[m.To[0]] = [2]string{m.From, strings.Trim(msg.Header.Get("Message-ID"), "<>")}
	}
	return out
}

func TestBouncesEndToEndInMailer(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	e.cfg.BounceAddress = "bounces@bounce.example.com"
	subs := e.subscribe(t, "sub", 5, store.StatusConfirmed)
	e.addPost("p1", workerT0.Add(-time.Hour), true)
	e.announce(t, "p1")
	m := e.mailer(t, nil)
	drain(t, m)
	sent := e.sent(t)
	if len(sent) != 5 {
		t.Fatalf("sent %d", len(sent))
	}
	b := e.bounces(t)
	v := b.VERP()
	for _, addr := range subs {
		from, mid := sent[addr][0], sent[addr][1]
		tag, ok, err := v.Decode(from)
		if err != nil || !ok {
			t.Fatalf("%s: envelope sender %q is not a valid VERP address: %v", addr, from, err)
		}
		ml, sub, ok := matchMessageID(e.secret, mid)
		if !ok || ml != tag.Mailing || sub != tag.Subscriber {
			t.Fatalf("%s: Message-ID %q names %d/%d, VERP %v", addr, mid, ml, sub, tag)
		}
	}
	e.clock.Advance(time.Minute)

	// sub000: a hard bounce to its VERP address suppresses it.
	p, err := b.Process(e.ctx, []string{sent[subs[0]][0]}, dsn(sent[subs[0]][0], subs[0], "5.1.1", sent[subs[0]][1]))
	if err != nil || len(p.Events) != 1 || p.Events[0].Outcome != store.OutcomeSuppressed {
		t.Fatalf("hard bounce: %+v, %v", p, err)
	}
	// sub001: a forged VERP mac changes nothing (even with a good Message-ID).
	forged := sent[subs[1]][0]
	forged = forged[:strings.IndexByte(forged, '@')-1] + "x" + forged[strings.IndexByte(forged, '@'):]
	if p, err := b.Process(e.ctx, nil, dsn(forged, subs[1], "5.1.1", sent[subs[1]][1])); err != nil || !p.Forged || len(p.Events) != 0 {
		t.Fatalf("forged VERP: %+v, %v", p, err)
	}
	// sub002: no VERP, only the quoted Message-ID: matched by it.
	p, err = b.Process(e.ctx, nil, dsn("bounces@bounce.example.com", subs[2], "4.2.2", sent[subs[2]][1]))
	if err != nil || len(p.Events) != 1 || p.Events[0].Outcome != store.OutcomeCounted || p.Events[0].MailingID == 0 {
		t.Fatalf("Message-ID match: %+v, %v", p, err)
	}
	// A forged Message-ID (bad mac) and no VERP: unmatched, nothing changes.
	badID := strings.Replace(sent[subs[3]][1], ".", ".9", 1)
	if p, err := b.Process(e.ctx, nil, dsn("bounces@bounce.example.com", subs[3], "5.1.1", badID)); err != nil || p.Events[0].Outcome != store.OutcomeUnmatched {
		t.Fatalf("forged Message-ID: %+v, %v", p, err)
	}
	// sub003: a vacation reply to its VERP address is recorded, nothing more.
	vac := []byte("From: " + subs[3] + "\r\nTo: " + sent[subs[3]][0] + "\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\nAway.\r\n")
	if p, err := b.Process(e.ctx, nil, vac); err != nil || p.Format != bounce.FormatAutoReply || p.Events[0].Outcome != store.OutcomeRecorded {
		t.Fatalf("vacation: %+v, %v", p, err)
	}
	// sub004: a complaint over a webhook unsubscribes.
	if err := b.Webhook(e.ctx, []bounce.Event{{Type: bounce.Complaint, Source: bounce.SourceSES, Recipient: strings.Replace(subs[4], "example.com", "Example.COM", 1)}}); err != nil {
		t.Fatal(err)
	}
	if s, _ := e.db.Subscriber(e.ctx, subs[4]); s.Status != store.StatusUnsubscribed {
		t.Fatalf("after complaint: %+v", s)
	}

	// The next post reaches sub001, sub002 and sub003 only.
	e.clock.Advance(time.Hour)
	e.srv.ForgetMessages()
	e.addPost("p2", e.clock.Now().Add(-time.Minute), true)
	e.announce(t, "p2")
	drain(t, m)
	got := e.sent(t)
	for i, addr := range subs {
		_, ok := got[addr]
		if want := i >= 1 && i <= 3; ok != want {
			t.Errorf("%s mailed: %v, want %v", addr, ok, want)
		}
	}
}

func TestNoBounceAddressKeepsFrom(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	e.subscribe(t, "sub", 1, store.StatusConfirmed)
	e.addPost("p1", workerT0.Add(-time.Hour), true)
	e.announce(t, "p1")
	drain(t, e.mailer(t, nil))
	for _, s := range e.sent(t) {
		if s[0] != "news@example.com" {
			t.Fatalf("envelope sender %q, want the From address", s[0])
		}
	}
}

func TestMatchMessageIDMirrorsMessageID(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{})
	m := e.mailer(t, nil)
	// The Message-IDs of earlier versions still match.
	old := hmac.New(sha256.New, e.secret)
	fmt.Fprintf(old, "message-id|mailing|%d|%d", 5, 6)
	if a, s, ok := matchMessageID(e.secret, "<herald.5.6."+hex.EncodeToString(old.Sum(nil)[:4])+"@example.com>"); !ok || a != 5 || s != 6 {
		t.Errorf("an old-style Message-ID did not match: %d, %d, %v", a, s, ok)
	}
	for _, c := range [][2]int64{{1, 1}, {12, 3456}, {1 << 40, 7}} {
		id := m.mailingMessageID(c[0], c[1], postsKey([]store.MailingPost{{PostID: "p1"}}))
		a, s, ok := matchMessageID(e.secret, id)
		if !ok || a != c[0] || s != c[1] {
			t.Fatalf("matchMessageID(%q) = %d, %d, %v", id, a, s, ok)
		}
		if _, _, ok := matchMessageID([]byte("another-secret-0123456789"), id); ok {
			t.Fatalf("%q matched with another secret", id)
		}
		// Every part is signed: another install id or post does not match.
		parts := strings.Split(id, ".")
		for _, i := range []int{3, 4} {
			forged := append([]string{}, parts...)
			forged[i] = "ff" + forged[i]
			if _, _, ok := matchMessageID(e.secret, strings.Join(forged, ".")); ok {
				t.Fatalf("%q matched with part %d changed", strings.Join(forged, "."), i)
			}
		}
	}
	for _, id := range []string{"", "herald.1.2@x", "herald.confirm.1.abcd@x", "other.1.2.abcdabcd@x", "herald.0.2.00000000@x"} {
		if _, _, ok := matchMessageID(e.secret, id); ok {
			t.Errorf("matchMessageID(%q) matched", id)
		}
	}
}

func TestBounceAddressConfig(t *testing.T) {
	for addr, ok := range map[string]bool{
		"bounces@example.com": true, "Blog <bounces@example.com>": false, "bounces+x@example.com": false, "nobody": false,
	} {
		c := Default()
		c.BounceAddress = addr
		err := c.Validate()
		if (err == nil) != ok {
			t.Errorf("bounce_address %q: %v, want ok=%v", addr, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "mail.bounce_address") {
			t.Errorf("error %q does not name the key", err)
		}
	}
}

// A 550 5.1.1 at send time is a hard bounce: the address is suppressed and
// the next post does not try it again. A 5xx about the content is recorded
// only.
func TestSMTPRejectionSuppresses(t *testing.T) {
	e := newTestEnv(t, smtptest.Options{Fail5xx: map[string]bool{"sub001@example.com": true}})
	e.subscribe(t, "sub", 3, store.StatusConfirmed)
	e.addPost("p1", workerT0, true)
	e.clock.Advance(time.Minute)
	e.announce(t, "p1")
	m := e.mailer(t, nil)
	if s := drain(t, m); s.Sent != 2 || s.Failed != 1 {
		t.Fatalf("first post: %+v", s)
	}
	evs, err := e.db.BouncesFor(e.ctx, "sub001@example.com")
	if err != nil || len(evs) != 1 || evs[0].Source != "smtp" || evs[0].Type != store.BounceHard ||
		evs[0].Status != "5.1.1" || evs[0].Outcome != store.OutcomeSuppressed || evs[0].MailingID == 0 {
		t.Fatalf("events = %+v, %v", evs, err)
	}
	before := len(e.srv.Rejections())
	e.clock.Advance(time.Hour)
	e.addPost("p2", e.clock.Now().Add(-time.Minute), true)
	e.announce(t, "p2")
	if s := drain(t, m); s.Sent != 2 || s.Failed != 0 {
		t.Fatalf("second post: %+v", s)
	}
	after := len(e.srv.Rejections())
	if after != before {
		t.Fatalf("the suppressed address was tried again (%d rejections, then %d)", before, after)
	}
	// A content rejection changes nothing.
	m.smtpBounce(m.log, store.Delivery{SubscriberID: 1, MailingID: 1, Email: "sub000@example.com"}, 554, "554 5.7.1 message content rejected")
	if evs, _ := e.db.BouncesFor(e.ctx, "sub000@example.com"); len(evs) != 1 || evs[0].Type != store.BounceOther || evs[0].Outcome != store.OutcomeRecorded {
		t.Fatalf("content rejection: %+v", evs)
	}
}
