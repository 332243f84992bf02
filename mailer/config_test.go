package mailer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultValidates(t *testing.T) {
	cfg := Default()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if cfg.Transport != "maildir" || cfg.MaxAttempts != 10 || cfg.RetryFor.Hours() != 72 || cfg.SMTP.Concurrency != 4 || cfg.BatchSize != 100 {
		t.Errorf("unexpected defaults %+v", cfg)
	}
}

func TestConfigValidate(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("secret\n"), 0o600)
	smtpOK := func(c *Config) {
		c.Transport = "smtp"
		c.From = "Blog <news@example.com>"
		c.SMTP.Host = "smtp.example.com"
		c.SMTP.Username = "u"
		c.SMTP.PasswordFile = pw
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // "" = valid
	}{
		{"smtp ok", smtpOK, ""},
		{"bad transport", func(c *Config) { c.Transport = "sendmail" }, `mail.transport: must be "maildir" or "smtp"`},
		{"smtp without from", func(c *Config) { smtpOK(c); c.From = "" }, "mail.from: required"},
		{"bad from", func(c *Config) { c.From = "not an address" }, "mail.from:"},
		{"from with CRLF", func(c *Config) { c.From = "a@b.c\r\nBcc: x@y.z" }, "mail.from:"},
		{"bad tls", func(c *Config) { smtpOK(c); c.SMTP.TLS = "ssl" }, "mail.smtp.tls: must be starttls, tls or none"},
		{"auth without tls", func(c *Config) { smtpOK(c); c.SMTP.TLS = "none" }, "mail.smtp.username: AUTH is never sent without TLS; set mail.smtp.tls"},
		{"no auth without tls", func(c *Config) { smtpOK(c); c.SMTP.TLS = "none"; c.SMTP.Username = "" }, ""},
		{"auth none with username and no tls", func(c *Config) { smtpOK(c); c.SMTP.TLS = "none"; c.SMTP.Auth = "none" }, ""},
		{"bad auth", func(c *Config) { smtpOK(c); c.SMTP.Auth = "xoauth2" }, "mail.smtp.auth: must be auto, plain, login, cram-md5 or none"},
		{"missing password file", func(c *Config) { smtpOK(c); c.SMTP.PasswordFile = "/nonexistent/pw" }, "mail.smtp.password_file"},
		{"no host", func(c *Config) { smtpOK(c); c.SMTP.Host = "" }, "mail.smtp.host"},
		{"bad port", func(c *Config) { smtpOK(c); c.SMTP.Port = 70000 }, "mail.smtp.port"},
		{"zero concurrency", func(c *Config) { smtpOK(c); c.SMTP.Concurrency = 0 }, "mail.smtp.concurrency"},
		{"negative rate", func(c *Config) { smtpOK(c); c.SMTP.Rate = -1 }, "mail.smtp.rate"},
		{"zero timeout", func(c *Config) { smtpOK(c); c.SMTP.Timeout.Duration = 0 }, "mail.smtp.timeout"},
		{"bad subject", func(c *Config) { c.Subject = "{{.Title" }, "mail.subject: bad template"},
		{"bad list id", func(c *Config) { c.ListID = "Blog <not a list>" }, "mail.list_id"},
		{"good list id", func(c *Config) { c.ListID = "Blog <news.example.com>" }, ""},
		{"bad mailto", func(c *Config) { c.UnsubscribeMailto = "mailto:nope" }, "mail.unsubscribe_mailto"},
		{"good mailto", func(c *Config) { c.UnsubscribeMailto = "mailto:leave@example.com" }, ""},
		{"zero attempts", func(c *Config) { c.MaxAttempts = 0 }, "mail.max_attempts"},
		{"zero batch", func(c *Config) { c.BatchSize = 0 }, "mail.batch_size"},
		{"no templates folder", func(c *Config) { c.Templates = "/nonexistent/templates" }, "mail.templates"},
		{"empty maildir", func(c *Config) { c.Maildir = "" }, "mail.maildir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			tt.mutate(&cfg)
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestPortFromTLS(t *testing.T) {
	for tls, want := range map[string]int{"starttls": 587, "tls": 465, "none": 25} {
		cfg := Default()
		cfg.Transport, cfg.From, cfg.SMTP.Host, cfg.SMTP.TLS = "smtp", "a@example.com", "smtp.example.com", tls
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		if cfg.SMTP.Port != want {
			t.Errorf("tls=%s: port %d, want %d", tls, cfg.SMTP.Port, want)
		}
	}
}

func TestPassword(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	os.WriteFile(file, []byte("from-file\r\nignored\n"), 0o600)
	t.Setenv("HERALD_TEST_PW", "from-env")
	tests := []struct {
		name    string
		cfg     SMTPConfig
		want    string
		wantErr bool
	}{
		{"file wins", SMTPConfig{PasswordFile: file, PasswordEnv: "HERALD_TEST_PW"}, "from-file", false},
		{"env", SMTPConfig{PasswordEnv: "HERALD_TEST_PW"}, "from-env", false},
		{"unset env", SMTPConfig{PasswordEnv: "HERALD_TEST_PW_UNSET"}, "", true},
		{"missing file", SMTPConfig{PasswordFile: filepath.Join(dir, "nope")}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.Password()
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("Password() = %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "from-") {
				t.Errorf("error leaks a password: %v", err)
			}
		})
	}
}

func TestNewComposerDefaults(t *testing.T) {
	cfg := Default()
	site := testSite()
	site.URL = "https://www.example.net/blog"
	c, err := NewComposer(&cfg, site, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.From().String(); got != `"Example Blog" <author@example.com>` {
		t.Errorf("derived From %s", got)
	}
	if c.listID != `"Example Blog" <newsletter.example.net>` {
		t.Errorf("derived List-Id %s", c.listID)
	}
	site.Email = ""
	c, err = NewComposer(&cfg, site, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.From().Address; got != "newsletter@example.net" {
		t.Errorf("derived From without site.email: %s", got)
	}
}

func TestWebConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*WebConfig)
		wantErr string
	}{
		{"defaults", func(*WebConfig) {}, ""},
		{"relative public url", func(c *WebConfig) { c.PublicURL = "/herald" }, "server.public_url"},
		{"zero ttl", func(c *WebConfig) { c.PendingTTL.Duration = 0 }, "server.pending_ttl"},
		{"zero rate", func(c *WebConfig) { c.RateLimit.PerIP = 0 }, "server.rate_limit.per_ip"},
		{"zero per address", func(c *WebConfig) { c.PerAddress = 0 }, "server.rate_limit.per_address"},
		{"negative body", func(c *WebConfig) { c.MaxBodyBytes = -1 }, "server.rate_limit.max_body_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultWeb()
			tt.edit(&c)
			err := c.Validate("https://e.com/herald/")
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate = %v, want an error naming %s", err, tt.wantErr)
			}
			if tt.wantErr == "" && c.PublicURL != "https://e.com/herald" {
				t.Errorf("PublicURL = %q, want the default without a trailing slash", c.PublicURL)
			}
		})
	}
}
