package mailer

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"herald/mailer/smtptest"
)

// smtpConfig returns a [mail] configuration sending to the test server s
// with STARTTLS (or implicit TLS) and AUTH as "user"; the password is in a
// file.
func smtpConfig(t testing.TB, s *smtptest.Server) Config {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte(s.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	cfg.Transport = TransportSMTP
	cfg.From = "Blog <news@example.com>"
	cfg.SMTP.Host = s.Host
	cfg.SMTP.Port = s.Port
	cfg.SMTP.Username = "user"
	cfg.SMTP.PasswordFile = pw
	cfg.SMTP.TLS = "starttls"
	if s.ImplicitTLS() {
		cfg.SMTP.TLS = "tls"
	}
	cfg.SMTP.Timeout.Duration = 5 * time.Second
	cfg.SMTP.HELO = "herald.test"
	return cfg
}

// smtpTransport returns an SMTP transport for cfg that trusts the test
// server s.
func smtpTransport(t testing.TB, s *smtptest.Server, cfg Config) *SMTPTransport {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	tr, err := NewSMTPTransport(&cfg, nil, SMTPOptions{TLSConfig: s.ClientTLS})
	if err != nil {
		t.Fatalf("NewSMTPTransport: %v", err)
	}
	return tr
}
