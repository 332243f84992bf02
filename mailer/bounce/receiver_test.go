package bounce

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"herald/mailer/smtptest"
)

type delivered struct {
	mu   sync.Mutex
	envs [][]string
	raws [][]byte
	fail error
}

func (d *delivered) deliver(_ context.Context, env []string, raw []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return d.fail
	}
	d.envs = append(d.envs, env)
	d.raws = append(d.raws, raw)
	return nil
}

func startReceiver(t *testing.T, protocol string, d *delivered) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := NewReceiver("bounce.herald.test", protocol, d.deliver, nil)
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestReceiverLMTP(t *testing.T) {
	var d delivered
	addr := startReceiver(t, ProtocolLMTP, &d)
	c := smtptest.DialLMTP(t, addr, "mx.herald.test")
	raw := readFixture(t, "postfix/unknown-user.eml")
	rcpt := "bounces+1.2.yfquynplutel6@bounce.herald.test"
	if err := c.Send("", []string{rcpt}, bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if len(d.raws) != 1 || len(d.envs[0]) != 1 || d.envs[0][0] != rcpt {
		t.Fatalf("delivered %v", d.envs)
	}
	rep, err := Parse(d.raws[0], d.envs[0], testVERP(t))
	if err != nil || rep.Tag == nil || *rep.Tag != (Tag{1, 2}) || rep.Events[0].Type != Hard {
		t.Fatalf("parsed %+v, %v", rep, err)
	}

	// Other domains are refused at RCPT: no relay, nothing delivered.
	err = c.Send("", []string{"someone@example.com"}, strings.NewReader("Subject: x\r\n\r\nx\r\n"))
	if smtptest.ReplyCode(err) != 550 {
		t.Fatalf("foreign recipient: %v, want 550", err)
	}
	if len(d.raws) != 1 {
		t.Fatalf("foreign mail delivered")
	}

	// A database failure answers 4xx so that the MTA keeps the bounce.
	d.fail = errors.New("database is locked")
	err = c.Send("", []string{rcpt}, bytes.NewReader(raw))
	if smtptest.ReplyCode(err) != 451 {
		t.Fatalf("failing sink: %v, want 451", err)
	}
}

func TestReceiverSMTP(t *testing.T) {
	var d delivered
	addr := startReceiver(t, ProtocolSMTP, &d)
	c := smtptest.Dial(t, addr)
	if err := c.Send("", []string{"BOUNCES@Bounce.Herald.Test"}, bytes.NewReader(readFixture(t, "arf.eml"))); err != nil {
		t.Fatal(err)
	}
	if len(d.raws) != 1 {
		t.Fatalf("delivered %d", len(d.raws))
	}
}
