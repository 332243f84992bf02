package mailer

import (
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"herald/feed"
)

// Config is the [mail] section of the configuration.
type Config struct {
	Transport string `toml:"transport"` // "maildir" (default) | "smtp"
	Maildir   string `toml:"maildir"`   // folder of the maildir transport, "var/mail"
	// From is the sender, "Blog <news@example.com>". Required with the smtp
	// transport; otherwise "" derives it from site.title and site.email (or
	// "newsletter@<site host>").
	From    string `toml:"from"`
	Section string `toml:"section"` // heading whose section is mailed, "TLDR"
	// MaxSection bounds the mailed section's HTML (default 100KB): past it
	// the mail carries the section's start and a "continue reading" link.
	MaxSection feed.Size `toml:"max_section"`
	// Subject is a text/template. Its data: .Title (the post title; for a
	// digest "<first post's title>, and N more"), .Site (site title), .Posts (each with
	// .Title, .URL, .Date), .Digest (bool). Default "{{.Title}}".
	Subject   string `toml:"subject"`
	Backfill  bool   `toml:"backfill"`
	Templates string `toml:"templates"` // folder with newsletter.html/newsletter.txt (and optionally confirm.html/confirm.txt) overriding the embedded ones; "" = embedded
	// MaxAttempts bounds delivery attempts of one message (default 10).
	MaxAttempts int           `toml:"max_attempts"`
	RetryFor    feed.Duration `toml:"retry_for"` // give up retrying after this long, 72h
	// ListID is the List-Id header (RFC 2919): "Blog Title <newsletter.example.com>"
	// or just "newsletter.example.com". "" derives "<site title> <newsletter.<site host>>".
	ListID            string `toml:"list_id"`
	UnsubscribeMailto string `toml:"unsubscribe_mailto"` // optional address for List-Unsubscribe's mailto: URI
	// BatchSize bounds one claim (default 100). A claim never takes more
	// than the workers ready to send at once (mail.smtp.concurrency), so
	// that the deliveries in flight are the ones handed to the server.
	BatchSize int `toml:"batch_size"`
	// Lease is how long a claim holds deliveries before another worker may
	// take them over (default 2m). The worker renews its leases every
	// quarter of it while it runs; after a crash, the deliveries it had in
	// flight are sent again once their lease has run out.
	Lease feed.Duration `toml:"lease"`
	SMTP  SMTPConfig    `toml:"smtp"`
	DKIM  DKIMConfig    `toml:"dkim"`

	// BounceAddress is the envelope sender's base: each delivery is sent
	// from bounces+MAILING.SUBSCRIBER.MAC@domain (VERP), so a bounce names
	// its delivery. "" = the From address, no VERP.
	BounceAddress string `toml:"bounce_address"`
	// Footer is an optional line at the foot of every mail, such as the
	// sender's postal address (which CAN-SPAM asks commercial senders for).
	Footer string `toml:"footer"`
}

// SMTPConfig is the [mail.smtp] section.
type SMTPConfig struct {
	Host string `toml:"host"`
	// Port 0 picks the port from TLS: 587 for starttls, 465 for tls, 25 for none.
	Port         int           `toml:"port"`
	Username     string        `toml:"username"`      // "" = no AUTH
	PasswordEnv  string        `toml:"password_env"`  // environment variable holding the password, "HERALD_SMTP_PASSWORD"
	PasswordFile string        `toml:"password_file"` // file holding the password (first line); wins over password_env
	TLS          string        `toml:"tls"`           // "starttls" (mandatory, default) | "tls" (implicit) | "none"
	Auth         string        `toml:"auth"`          // "auto" (default) | "plain" | "login" | "cram-md5" | "none"
	Concurrency  int           `toml:"concurrency"`   // parallel connections, 4
	Rate         float64       `toml:"rate"`          // messages per second overall, 0 = unlimited
	Timeout      feed.Duration `toml:"timeout"`       // dial and per-message timeout, 30s
	HELO         string        `toml:"helo"`          // EHLO name; "" = the machine's host name
}

// DKIMConfig is the [mail.dkim] section. All empty: no DKIM signature.
type DKIMConfig struct {
	Domain   string `toml:"domain"`   // d= tag, e.g. "example.com"
	Selector string `toml:"selector"` // s= tag, e.g. "herald"
	KeyFile  string `toml:"key_file"` // PEM private key: RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8)
}

// Enabled reports whether DKIM signing is configured.
func (d *DKIMConfig) Enabled() bool {
	return d.Domain != "" || d.Selector != "" || d.KeyFile != ""
}

// Transport names.
const (
	TransportMaildir = "maildir"
	TransportSMTP    = "smtp"
)

// DefaultMaxSection is the default mail.max_section.
const DefaultMaxSection = 100 << 10

// DefaultLease is the default mail.lease.
const DefaultLease = 2 * time.Minute

// maxFooter bounds mail.footer (one or two lines of text).
const maxFooter = 300

// DefaultSubject is the default subject template.
const DefaultSubject = "{{.Title}}"

// Default returns the [mail] defaults.
func Default() Config {
	return Config{
		Transport:   TransportMaildir,
		Maildir:     "var/mail",
		Section:     "TLDR",
		MaxSection:  DefaultMaxSection,
		Subject:     DefaultSubject,
		MaxAttempts: 10,
		RetryFor:    feed.Duration{Duration: 72 * time.Hour},
		BatchSize:   100,
		Lease:       feed.Duration{Duration: DefaultLease},
		SMTP: SMTPConfig{
			PasswordEnv: "HERALD_SMTP_PASSWORD",
			TLS:         "starttls",
			Auth:        "auto",
			Concurrency: 4,
			Timeout:     feed.Duration{Duration: 30 * time.Second},
		},
	}
}

// Validate checks the section; error messages name the key. It fills
// SMTP.Port from SMTP.TLS when it is 0, reads the password file (to check
// that it is readable) and parses the DKIM key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("mail."+key+": "+format, args...))
	}
	switch c.Transport {
	case TransportMaildir:
		if strings.TrimSpace(c.Maildir) == "" {
			bad("maildir", "must not be empty with transport = %q", c.Transport)
		}
	case TransportSMTP:
	default:
		bad("transport", "must be %q or %q, got %q", TransportMaildir, TransportSMTP, c.Transport)
	}
	if c.From == "" {
		if c.Transport == TransportSMTP {
			bad("from", "required with transport = \"smtp\" (e.g. \"Blog <news@example.com>\")")
		}
	} else if _, err := parseAddress(c.From); err != nil {
		bad("from", "%v", err)
	}
	if strings.TrimSpace(c.Section) == "" {
		bad("section", "must not be empty")
	}
	if c.MaxSection < 1<<10 {
		bad("max_section", "must be at least 1KB, got %s", c.MaxSection)
	}
	if _, err := parseText("subject", c.Subject); err != nil {
		bad("subject", "bad template: %v", err)
	} else if strings.TrimSpace(c.Subject) == "" {
		bad("subject", "must not be empty")
	}
	if c.Templates != "" {
		if _, err := loadTemplates(c.Templates); err != nil {
			bad("templates", "%v", err)
		}
	}
	if c.MaxAttempts < 1 {
		bad("max_attempts", "must be at least 1, got %d", c.MaxAttempts)
	}
	if c.RetryFor.Duration <= 0 {
		bad("retry_for", "must be positive, got %s", c.RetryFor.Duration)
	}
	if c.BatchSize < 1 {
		bad("batch_size", "must be at least 1, got %d", c.BatchSize)
	}
	if c.Lease.Duration < 2*time.Second {
		bad("lease", "must be at least 2s, got %s", c.Lease.Duration)
	}
	if c.ListID != "" {
		if _, err := normalizeListID(c.ListID); err != nil {
			bad("list_id", "%v", err)
		}
	}
	if c.UnsubscribeMailto != "" {
		if _, err := mailtoAddress(c.UnsubscribeMailto); err != nil {
			bad("unsubscribe_mailto", "%v", err)
		}
	}
	if c.BounceAddress != "" {
		if err := validBounceAddress(c.BounceAddress); err != nil {
			bad("bounce_address", "%v", err)
		}
	}
	if n := utf8.RuneCountInString(c.Footer); n > maxFooter {
		bad("footer", "at most %d characters, got %d", maxFooter, n)
	} else if !utf8.ValidString(c.Footer) {
		bad("footer", "not valid UTF-8")
	}
	if c.Transport == TransportSMTP {
		errs = append(errs, c.SMTP.validate()...)
	}
	if c.DKIM.Enabled() {
		errs = append(errs, c.DKIM.validate()...)
	}
	return errors.Join(errs...)
}

func (s *SMTPConfig) validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("mail.smtp."+key+": "+format, args...))
	}
	if strings.TrimSpace(s.Host) == "" || strings.ContainsAny(s.Host, " /:") && !strings.HasPrefix(s.Host, "[") {
		bad("host", "must be a host name or address, got %q", s.Host)
	}
	switch s.TLS {
	case "starttls", "tls", "none":
	default:
		bad("tls", "must be starttls, tls or none, got %q", s.TLS)
	}
	if s.Port == 0 {
		switch s.TLS {
		case "tls":
			s.Port = 465
		case "none":
			s.Port = 25
		default:
			s.Port = 587
		}
	}
	if s.Port < 1 || s.Port > 65535 {
		bad("port", "must be between 1 and 65535, got %d", s.Port)
	}
	switch s.Auth {
	case "auto", "plain", "login", "cram-md5", "none":
	default:
		bad("auth", "must be auto, plain, login, cram-md5 or none, got %q", s.Auth)
	}
	if s.Username != "" && s.Auth != "none" {
		if s.TLS == "none" {
			bad("username", "AUTH is never sent without TLS; set mail.smtp.tls to \"starttls\" or \"tls\" (or remove the username)")
		}
		if s.PasswordFile != "" {
			if _, err := s.Password(); err != nil {
				bad("password_file", "%v", err)
			}
		} else if s.PasswordEnv == "" {
			bad("password_env", "must name an environment variable (or set mail.smtp.password_file) when mail.smtp.username is set")
		}
	}
	if s.Username == "" && s.Auth != "auto" && s.Auth != "none" {
		bad("auth", "is %q but mail.smtp.username is empty", s.Auth)
	}
	if s.Concurrency < 1 || s.Concurrency > 100 {
		bad("concurrency", "must be between 1 and 100, got %d", s.Concurrency)
	}
	if s.Rate < 0 {
		bad("rate", "must be 0 (unlimited) or positive, got %g", s.Rate)
	}
	if s.Timeout.Duration <= 0 {
		bad("timeout", "must be positive, got %s", s.Timeout.Duration)
	}
	if strings.ContainsAny(s.HELO, " \t\r\n") {
		bad("helo", "must be a host name without spaces, got %q", s.HELO)
	}
	return errs
}

// UsesAuth reports whether the configuration asks for SMTP AUTH.
func (s *SMTPConfig) UsesAuth() bool { return s.Username != "" && s.Auth != "none" }

// Password returns the SMTP password from PasswordFile (its first line) or,
// when no file is set, from the environment variable PasswordEnv. The
// password is never logged or included in errors.
func (s *SMTPConfig) Password() (string, error) {
	if s.PasswordFile != "" {
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("mailer: reading password file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		line = strings.TrimRight(line, "\r")
		if line == "" {
			return "", fmt.Errorf("mailer: password file %s is empty", s.PasswordFile)
		}
		return line, nil
	}
	if s.PasswordEnv == "" {
		return "", errors.New("mailer: no mail.smtp.password_env or mail.smtp.password_file set")
	}
	v, ok := os.LookupEnv(s.PasswordEnv)
	if !ok || v == "" {
		return "", fmt.Errorf("mailer: environment variable %s (mail.smtp.password_env) is not set", s.PasswordEnv)
	}
	return v, nil
}

func (d *DKIMConfig) validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("mail.dkim."+key+": "+format, args...))
	}
	if !isDomain(d.Domain) {
		bad("domain", "must be a domain name, got %q", d.Domain)
	}
	if !isDomain(d.Selector) {
		bad("selector", "must be a DNS label such as \"herald\", got %q", d.Selector)
	}
	if d.KeyFile == "" {
		bad("key_file", "required when mail.dkim is set")
	} else if _, err := loadDKIMKey(d.KeyFile); err != nil {
		bad("key_file", "%v", err)
	}
	return errs
}

// isDomain reports whether s looks like an ASCII domain name or label.
func isDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// parseAddress parses an RFC 5322 address and insists on an ASCII address
// part (SMTPUTF8 is not used).
func parseAddress(s string) (*mail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("address %q contains a line break", s)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("bad address %q: %w", s, err)
	}
	if !isASCII(a.Address) {
		return nil, fmt.Errorf("address %q is not ASCII (internationalized addresses are not supported)", a.Address)
	}
	return a, nil
}

func mailtoAddress(s string) (string, error) {
	addr := strings.TrimPrefix(s, "mailto:")
	a, err := parseAddress(addr)
	if err != nil {
		return "", err
	}
	return a.Address, nil
}

// normalizeListID turns "Name <id>" or "id" into a List-Id value.
func normalizeListID(s string) (string, error) {
	s = sanitizeLine(s)
	name, id := "", s
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		if !strings.HasSuffix(s, ">") {
			return "", fmt.Errorf("must look like \"Blog <newsletter.example.com>\", got %q", s)
		}
		name, id = strings.TrimSpace(s[:i]), s[i+1:len(s)-1]
	}
	if !isDomain(id) || !strings.Contains(id, ".") {
		return "", fmt.Errorf("list id %q must be a dotted name like newsletter.example.com", id)
	}
	if name == "" {
		return "<" + id + ">", nil
	}
	return encodePhrase(name) + " <" + id + ">", nil
}

// loadTemplates reads the template folder; it is a helper of Validate and
// NewComposer.
func loadTemplates(dir string) (*templateSet, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", dir)
	}
	return parseTemplates(os.DirFS(filepath.Clean(dir)), dir, true)
}
