package smtptest

import (
	"strings"
	"testing"
	"time"
)

// The server keeps what it accepts, answers the faults asked for, and the
// client reads their reply codes.
func TestServerFaultsAndCapture(t *testing.T) {
	s := New(t, Options{
		NoSTARTTLS: true,
		Fail4xx:    map[string]int{"grey@example.org": 1},
		Fail5xx:    map[string]bool{"gone@example.org": true},
	})
	c := Dial(t, s.Addr)
	msg := func() *strings.Reader { return strings.NewReader("Subject: hi\r\n\r\nHello.\r\n") }

	if err := c.Send("news@example.com", []string{"Ann@Example.org"}, msg()); err != nil {
		t.Fatalf("plain send: %v", err)
	}
	if err := c.Send("news@example.com", []string{"gone@example.org"}, msg()); ReplyCode(err) != 550 {
		t.Errorf("Fail5xx: %v (code %d), want 550", err, ReplyCode(err))
	}
	if err := c.Send("news@example.com", []string{"grey@example.org"}, msg()); ReplyCode(err) != 451 {
		t.Errorf("Fail4xx, first try: %v (code %d), want 451", err, ReplyCode(err))
	}
	if err := c.Send("news@example.com", []string{"grey@example.org"}, msg()); err != nil {
		t.Errorf("Fail4xx, second try: %v, want accepted", err)
	}
	if ReplyCode(nil) != 0 {
		t.Error("ReplyCode(nil) != 0")
	}

	if got := s.Rejections(); strings.Join(got, ",") != "550 gone@example.org,451 grey@example.org" {
		t.Errorf("Rejections = %q", got)
	}
	if r, d := s.Totals(); r != 2 || d != 2 || s.Delivered() != 2 {
		t.Errorf("Totals = %d recipients, %d deliveries; Delivered %d; want 2, 2, 2", r, d, s.Delivered())
	}
	if s.Count("ann@example.org") != 1 || s.Counts()["grey@example.org"] != 1 {
		t.Errorf("Counts = %v", s.Counts())
	}
	got := s.To("ann@example.org")
	if len(got) != 1 || got[0].From != "news@example.com" || !strings.Contains(string(got[0].Data), "Hello.") || got[0].TLS || got[0].Conn != 1 {
		t.Errorf("To(ann) = %+v", got)
	}
	if s.Conns() != 1 || s.ClearAuth() != 0 || s.AuthOK() != 0 {
		t.Errorf("conns %d, clear AUTH %d, AUTH ok %d; want 1, 0, 0", s.Conns(), s.ClearAuth(), s.AuthOK())
	}
	s.ForgetMessages()
	if len(s.Messages()) != 0 || s.Delivered() != 2 {
		t.Errorf("after ForgetMessages: %d messages kept, %d delivered; want 0, 2", len(s.Messages()), s.Delivered())
	}
}

// Latency holds each message that long before the 250; Window spans the
// first and the latest acceptance; MaxRecipients refuses the one too many.
func TestServerLatencyWindowMaxRecipients(t *testing.T) {
	s := New(t, Options{NoSTARTTLS: true, Discard: true, Latency: 30 * time.Millisecond, MaxRecipients: 1})
	c := Dial(t, s.Addr)
	if f, l := s.Window(); !f.IsZero() || !l.IsZero() {
		t.Errorf("Window before any message = %v, %v; want zero", f, l)
	}
	start := time.Now()
	for range 2 {
		if err := c.Send("news@example.com", []string{"ann@example.org"}, strings.NewReader("Subject: hi\r\n\r\nHello.\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < 60*time.Millisecond {
		t.Errorf("two messages at 30ms latency took %v", el)
	}
	if f, l := s.Window(); f.Before(start) || l.Sub(f) < 30*time.Millisecond {
		t.Errorf("Window = %v .. %v, want after the start and 30ms apart at least", f, l)
	}
	if err := c.Send("news@example.com", []string{"a@example.org", "b@example.org"}, strings.NewReader("Subject: hi\r\n\r\nx\r\n")); err == nil {
		t.Error("two recipients accepted with MaxRecipients 1")
	}
	if len(s.Messages()) != 0 {
		t.Error("Discard kept a message")
	}
}
