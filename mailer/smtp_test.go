package mailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"herald/mailer/smtptest"
)

// testMessages prepares n messages to r0@example.org … r{n-1}@example.org.
func testMessages(t testing.TB, n int) []*Message {
	t.Helper()
	c := testComposer(t, nil)
	p, err := c.Prepare([]PostMail{{Title: "Post", URL: "https://blog.example.com/p/", Date: fixedNow, Section: seedSection()}})
	if err != nil {
		t.Fatal(err)
	}
	ms := make([]*Message, n)
	for i := range ms {
		ms[i], err = p.Message(Recipient{Email: fmt.Sprintf("r%d@example.org", i), UnsubscribeURL: fmt.Sprintf("https://blog.example.com/u?t=%d", i)}, fmt.Sprintf("m%d@blog.example.com", i))
		if err != nil {
			t.Fatal(err)
		}
	}
	return ms
}

func msgTo(t testing.TB, addr string) *Message {
	t.Helper()
	c := testComposer(t, nil)
	p, err := c.Prepare([]PostMail{{Title: "Post", URL: "https://blog.example.com/p/", Date: fixedNow}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Message(Recipient{Email: addr, UnsubscribeURL: "https://blog.example.com/u?t=" + addr}, "id."+addr)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func openConn(t *testing.T, tr Transport) Conn {
	t.Helper()
	conn, err := tr.Open(context.Background())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func sendError(t *testing.T, err error) *SendError {
	t.Helper()
	var se *SendError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *SendError", err, err)
	}
	return se
}

func TestSMTPStartTLSAuthManyMessagesOneConnection(t *testing.T) {
	for _, implicit := range []bool{false, true} {
		t.Run(fmt.Sprintf("implicitTLS=%v", implicit), func(t *testing.T) {
			srv := smtptest.New(t, smtptest.Options{ImplicitTLS: implicit, RequireAuth: true})
			cfg := smtpConfig(t, srv)
			tr := smtpTransport(t, srv, cfg)
			conn := openConn(t, tr)
			ms := testMessages(t, 5)
			for _, m := range ms {
				if err := conn.Send(context.Background(), m); err != nil {
					t.Fatalf("Send: %v", err)
				}
			}
			if err := conn.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			got := srv.Messages()
			if len(got) != len(ms) {
				t.Fatalf("server got %d messages, want %d", len(got), len(ms))
			}
			for i, g := range got {
				if !g.TLS || g.User != "user" || g.Conn != 1 {
					t.Errorf("message %d: tls=%v user=%q conn=%d; want TLS, AUTH as user, connection 1", i, g.TLS, g.User, g.Conn)
				}
				if g.From != "news@example.com" || len(g.To) != 1 || g.To[0] != ms[i].To() {
					t.Errorf("message %d: envelope %s → %v", i, g.From, g.To)
				}
				if !bytes.Equal(g.Data, ms[i].Bytes()) {
					t.Errorf("message %d: bytes differ from what was sent", i)
				}
			}
			if srv.Conns() != 1 || srv.AuthOK() != 1 || srv.ClearAuth() != 0 {
				t.Errorf("conns=%d auth=%d clearAuth=%d, want 1, 1, 0", srv.Conns(), srv.AuthOK(), srv.ClearAuth())
			}
		})
	}
}

func TestSMTPNeverAuthWithoutTLS(t *testing.T) {
	t.Run("tls=none with a username is a config error", func(t *testing.T) {
		srv := smtptest.New(t, smtptest.Options{NoSTARTTLS: true})
		cfg := smtpConfig(t, srv)
		cfg.SMTP.TLS = "none"
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "mail.smtp.username: AUTH is never sent without TLS") {
			t.Errorf("Validate = %v", err)
		}
		if _, err := NewSMTPTransport(&cfg, nil, SMTPOptions{}); err == nil {
			t.Error("NewSMTPTransport accepted AUTH without TLS")
		}
	})
	t.Run("server without STARTTLS", func(t *testing.T) {
		srv := smtptest.New(t, smtptest.Options{NoSTARTTLS: true})
		tr := smtpTransport(t, srv, smtpConfig(t, srv))
		_, err := tr.Open(context.Background())
		if err == nil {
			t.Fatal("Open succeeded against a server without STARTTLS")
		}
		if !strings.Contains(err.Error(), "STARTTLS") {
			t.Errorf("error %q does not mention STARTTLS", err)
		}
		if sendError(t, err).Temporary {
			t.Error("a missing STARTTLS is not temporary")
		}
		if srv.ClearAuth() != 0 || srv.AuthOK() != 0 {
			t.Errorf("AUTH sent: clear=%d ok=%d", srv.ClearAuth(), srv.AuthOK())
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		srv := smtptest.New(t, smtptest.Options{})
		cfg := smtpConfig(t, srv)
		cfg.Validate()
		tr, err := NewSMTPTransport(&cfg, nil, SMTPOptions{}) // system roots do not trust the test certificate
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Open(context.Background()); err == nil {
			t.Fatal("Open trusted a self-signed certificate")
		}
		if srv.ClearAuth() != 0 || srv.AuthOK() != 0 {
			t.Errorf("AUTH sent: clear=%d ok=%d", srv.ClearAuth(), srv.AuthOK())
		}
	})
	t.Run("plaintext without AUTH works", func(t *testing.T) {
		srv := smtptest.New(t, smtptest.Options{NoSTARTTLS: true})
		cfg := smtpConfig(t, srv)
		cfg.SMTP.TLS = "none"
		cfg.SMTP.Username = ""
		conn := openConn(t, smtpTransport(t, srv, cfg))
		if err := conn.Send(context.Background(), msgTo(t, "a@example.org")); err != nil {
			t.Fatal(err)
		}
		if got := srv.Messages(); len(got) != 1 || got[0].TLS || got[0].User != "" {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		srv := smtptest.New(t, smtptest.Options{Users: map[string]string{"user": "other-password"}})
		srv.Password = "sekrit-password"
		tr := smtpTransport(t, srv, smtpConfig(t, srv))
		_, err := tr.Open(context.Background())
		if err == nil {
			t.Fatal("Open succeeded with a wrong password")
		}
		se := sendError(t, err)
		if se.Code != 535 || se.Temporary {
			t.Errorf("got code %d temporary %v, want 535 permanent", se.Code, se.Temporary)
		}
		if strings.Contains(err.Error(), "sekrit") {
			t.Errorf("error leaks the password: %v", err)
		}
	})
}

func TestSMTPFaults(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{
		Fail4xx:  map[string]int{"slow@example.org": 2},
		Fail5xx:  map[string]bool{"gone@example.org": true},
		DropData: map[string]int{"drop@example.org": 1},
	})
	tr := smtpTransport(t, srv, smtpConfig(t, srv))
	ctx := context.Background()
	conn := openConn(t, tr)

	// 451: temporary, the connection stays usable (RSET).
	for range 2 {
		err := conn.Send(ctx, msgTo(t, "slow@example.org"))
		se := sendError(t, err)
		if se.Code != 451 || !se.Temporary || se.Throttle || se.ConnBroken() || se.Enhanced != "4.7.1" {
			t.Errorf("451: got %+v", se)
		}
	}
	if err := conn.Send(ctx, msgTo(t, "ok1@example.org")); err != nil {
		t.Fatalf("send after 451: %v", err)
	}
	if err := conn.Send(ctx, msgTo(t, "slow@example.org")); err != nil {
		t.Fatalf("third try after two 451: %v", err)
	}

	// 550: permanent, the connection stays usable.
	se := sendError(t, conn.Send(ctx, msgTo(t, "gone@example.org")))
	if se.Code != 550 || se.Temporary || se.ConnBroken() || se.Enhanced != "5.1.1" || !strings.Contains(se.Error(), "550 5.1.1: no such user") {
		t.Errorf("550: got %+v (%v)", se, se)
	}
	if err := conn.Send(ctx, msgTo(t, "ok2@example.org")); err != nil {
		t.Fatalf("send after 550: %v", err)
	}
	if srv.Conns() != 1 {
		t.Errorf("%d connections so far, want 1", srv.Conns())
	}

	// Dropped mid-DATA: temporary, code 0, the connection is broken; a
	// re-Open works and the retry goes through.
	se = sendError(t, conn.Send(ctx, msgTo(t, "drop@example.org")))
	if se.Code != 0 || !se.Temporary || !se.ConnBroken() {
		t.Errorf("drop: got %+v", se)
	}
	if err := conn.Send(ctx, msgTo(t, "ok3@example.org")); err == nil || !sendError(t, err).ConnBroken() {
		t.Errorf("Send on a broken connection: %v", err)
	}
	conn.Close()
	conn = openConn(t, tr)
	if err := conn.Send(ctx, msgTo(t, "drop@example.org")); err != nil {
		t.Fatalf("retry after re-open: %v", err)
	}
	for addr, want := range map[string]int{"slow@example.org": 1, "gone@example.org": 0, "drop@example.org": 1, "ok1@example.org": 1, "ok2@example.org": 1, "ok3@example.org": 0} {
		if got := srv.Count(addr); got != want {
			t.Errorf("%s got %d copies, want %d", addr, got, want)
		}
	}
}

func TestSMTP421Throttle(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{MaxPerConn: 3})
	tr := smtpTransport(t, srv, smtpConfig(t, srv))
	ctx := context.Background()
	ms := testMessages(t, 7)
	conn := openConn(t, tr)
	sent, throttled := 0, 0
	for i := 0; i < len(ms); {
		err := conn.Send(ctx, ms[i])
		if err == nil {
			sent++
			i++
			continue
		}
		se := sendError(t, err)
		if se.Code != 421 || !se.Throttle || !se.Temporary || !se.ConnBroken() {
			t.Fatalf("got %+v, want a 421 throttle", se)
		}
		throttled++
		conn.Close()
		conn = openConn(t, tr)
	}
	if sent != 7 || throttled != 2 || srv.Conns() != 3 || srv.Delivered() != 7 {
		t.Errorf("sent %d, throttled %d, connections %d, delivered %d; want 7, 2, 3, 7", sent, throttled, srv.Conns(), srv.Delivered())
	}
}

func TestSMTPContextCanceled(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{})
	tr := smtpTransport(t, srv, smtpConfig(t, srv))
	conn := openConn(t, tr)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := conn.Send(ctx, msgTo(t, "a@example.org"))
	if se := sendError(t, err); !se.Temporary || !errors.Is(err, context.Canceled) {
		t.Errorf("got %+v", se)
	}
	// Open with a canceled context fails fast.
	start := time.Now()
	if _, err := tr.Open(ctx); err == nil {
		t.Error("Open with a canceled context succeeded")
	}
	if time.Since(start) > 2*time.Second {
		t.Error("Open with a canceled context was slow")
	}
	if _, err := newTestTransportDown(t).Open(context.Background()); err == nil || !sendError(t, err).Temporary {
		t.Errorf("connection refused: %v, want a temporary error", err)
	}
}

// newTestTransportDown returns a transport pointing at a closed port.
func newTestTransportDown(t *testing.T) Transport {
	srv := smtptest.New(t, smtptest.Options{})
	cfg := smtpConfig(t, srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.SMTP.Port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return smtpTransport(t, srv, cfg)
}

func TestSendErrorString(t *testing.T) {
	tests := []struct {
		e    SendError
		want string
	}{
		{SendError{Code: 451, Enhanced: "4.7.1", Text: "try again later"}, "mailer: smtp 451 4.7.1: try again later"},
		{SendError{Code: 550, Text: "no such user"}, "mailer: smtp 550: no such user"},
		{SendError{Text: "end of DATA failed", Err: errors.New("EOF")}, "mailer: end of DATA failed: EOF"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// TestSendToExternalSMTP sends sample newsletters to a real server for
// third-party checks, when HERALD_TEST_SMTP is "host:port" (STARTTLS, AUTH
// as HERALD_TEST_SMTP_USER with $HERALD_SMTP_PASSWORD, trusting the system
// roots, i.e. SSL_CERT_FILE):
//
//	../shared/tools/smtp-capture 2587 /tmp/cap --starttls --auth u:p &
//	HERALD_TEST_SMTP=127.0.0.1:2587 HERALD_TEST_SMTP_USER=u HERALD_SMTP_PASSWORD=p \
//	  SSL_CERT_FILE=/tmp/smtp-capture-tls/cert.pem go test ./mailer -run TestSendToExternalSMTP
//	../shared/tools/check-mails /tmp/cap --expect-count 20 --expect-tls --expect-auth
func TestSendToExternalSMTP(t *testing.T) {
	addr := os.Getenv("HERALD_TEST_SMTP")
	if addr == "" {
		t.Skip("HERALD_TEST_SMTP not set")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	cfg.Transport = TransportSMTP
	cfg.From = "Example Blog <news@example.com>"
	cfg.SMTP.Host = host
	fmt.Sscan(port, &cfg.SMTP.Port)
	cfg.SMTP.Username = os.Getenv("HERALD_TEST_SMTP_USER")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tr, err := NewTransport(&cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tr.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := newTestComposer(t, nil, nil)
	p, err := c.Prepare([]PostMail{{Title: "Finishing my Data Career Masterplan", URL: "https://blog.example.com/2023/10/06/finishing/", Date: fixedNow, Section: seedSection()}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		m, err := p.Message(Recipient{Email: fmt.Sprintf("reader%d@example.org", i), UnsubscribeURL: fmt.Sprintf("https://blog.example.com/herald/unsubscribe?token=t%d", i)}, fmt.Sprintf("ext.%d@blog.example.com", i))
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.Send(context.Background(), m); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
}

func TestSMTPOpenHonoursContext(t *testing.T) {
	// A server that accepts and never greets.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	cfg := Default()
	cfg.Transport, cfg.From = TransportSMTP, "a@example.com"
	cfg.SMTP.Host = "127.0.0.1"
	cfg.SMTP.Port = ln.Addr().(*net.TCPAddr).Port
	cfg.SMTP.Timeout.Duration = time.Minute
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tr, err := NewSMTPTransport(&cfg, nil, SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = tr.Open(ctx)
	if err == nil {
		t.Fatal("Open succeeded without a greeting")
	}
	if !sendError(t, err).Temporary {
		t.Errorf("got %v, want a temporary error", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Open took %v despite a 200ms context", d)
	}
}
