package bounce

import (
	"bytes"
	"context"
	"net"
	"net/textproto"
	"testing"
	"time"

	"herald/mailer/smtptest"
)

// serveReceiver runs an LMTP receiver on a loopback port until cancel;
// done receives Serve's result.
func serveReceiver(t *testing.T, d *delivered) (r *Receiver, addr string, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r = NewReceiver("bounce.herald.test", ProtocolLMTP, d.deliver, nil)
	errc := make(chan error, 1)
	go func() { errc <- r.Serve(ctx, ln) }()
	t.Cleanup(cancel)
	return r, ln.Addr().String(), cancel, errc
}

// receiving is how many connections are receiving a message.
func (cs *conns) receiving() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	n := 0
	for _, busy := range cs.busy {
		if busy {
			n++
		}
	}
	return n
}

// TestReceiverShutdownClosesIdleConnections: an MTA keeps its LMTP
// connection open between deliveries (here after one refused recipient,
// without RSET), and a client may connect and say nothing; a stopping
// receiver closes those at once instead of waiting out its grace period
// for them.
func TestReceiverShutdownClosesIdleConnections(t *testing.T) {
	var d delivered
	_, addr, cancel, done := serveReceiver(t, &d)
	c := smtptest.DialLMTP(t, addr, "mx.herald.test")
	raw := readFixture(t, "postfix/unknown-user.eml")
	if err := c.Send("", []string{"bounces+1.2.yfquynplutel6@bounce.herald.test"}, bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	refused := smtptest.DialLMTP(t, addr, "mx.herald.test")
	if err := refused.Send("", []string{"someone@example.org"}, bytes.NewReader(raw)); err == nil {
		t.Fatal("mail for another domain was accepted")
	}
	silent, err := net.Dial("tcp", addr) // connected, never greets
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	time.Sleep(50 * time.Millisecond) // let the receiver accept it

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(shutdownGrace / 2):
		t.Fatalf("Serve still waiting %s after the cancel, for idle connections", shutdownGrace/2)
	}
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := silent.Read(make([]byte, 512)); err == nil {
		// The greeting may come first; the close must follow.
		if _, err := silent.Read(make([]byte, 512)); err == nil {
			t.Error("the silent connection is still open after Serve returned")
		}
	}
	if len(d.raws) != 1 {
		t.Errorf("delivered %d messages, want 1", len(d.raws))
	}
}

// TestReceiverShutdownFinishesMessage: a message being received when the
// receiver stops (DATA under way) is still accepted and answered; only
// then does the connection close and Serve return.
func TestReceiverShutdownFinishesMessage(t *testing.T) {
	var d delivered
	r, addr, cancel, done := serveReceiver(t, &d)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	tc := textproto.NewConn(nc)
	expect := func(code int) {
		t.Helper()
		if _, _, err := tc.ReadResponse(code); err != nil {
			t.Fatalf("want %d: %v", code, err)
		}
	}
	cmd := func(code int, line string) {
		t.Helper()
		if err := tc.PrintfLine("%s", line); err != nil {
			t.Fatal(err)
		}
		expect(code)
	}
	expect(220)
	cmd(250, "LHLO mx.herald.test")
	cmd(250, "MAIL FROM:<>")
	cmd(250, "RCPT TO:<bounces+1.2.yfquynplutel6@bounce.herald.test>")
	cmd(354, "DATA")
	w := tc.DotWriter()
	raw := readFixture(t, "postfix/unknown-user.eml")
	half := len(raw) / 2
	if _, err := w.Write(raw[:half]); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); r.conns.receiving() != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the receiver never started reading the message")
		}
	}

	cancel()
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) with a message being received", err)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := w.Write(raw[half:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	expect(250) // LMTP: one reply per recipient
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(shutdownGrace / 2):
		t.Fatalf("Serve still waiting %s after the message was answered", shutdownGrace/2)
	}
	if len(d.raws) != 1 {
		t.Errorf("delivered %d messages, want 1", len(d.raws))
	}
}
