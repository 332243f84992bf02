package bounce

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"herald/feed"
)

// Config is the [bounce] section: how bounces and complaints come in and
// what they do. Every way in is optional; any combination works.
type Config struct {
	// Listen is the address of the LMTP/SMTP receiver for an MTA that
	// routes the bounce address (mail.bounce_address) to Herald, such as
	// "127.0.0.1:2526"; "" = no receiver.
	Listen   string `toml:"listen"`
	Protocol string `toml:"protocol"` // "lmtp" (default) or "smtp"
	// SoftLimit transient bounces within SoftWindow suppress an address
	// (a successful delivery in between starts the count again); default 3.
	SoftLimit  int           `toml:"soft_limit"`
	SoftWindow feed.Duration `toml:"soft_window"` // default 720h (30 days)
	// KeepRaw is how long the raw message of a bounce is kept for
	// `herald bounces show`; default 720h.
	KeepRaw  feed.Duration  `toml:"keep_raw"`
	IMAP     IMAPConfig     `toml:"imap"`
	SES      SESConfig      `toml:"ses"`
	Postmark PostmarkConfig `toml:"postmark"`
	Mailgun  MailgunConfig  `toml:"mailgun"`
	SendGrid SendGridConfig `toml:"sendgrid"`
}

// IMAPConfig is [bounce.imap]: a mailbox polled over IMAP (TLS only).
type IMAPConfig struct {
	Host         string        `toml:"host"` // "" = no polling
	Port         int           `toml:"port"` // 993
	Username     string        `toml:"username"`
	PasswordEnv  string        `toml:"password_env"`  // "HERALD_IMAP_PASSWORD"
	PasswordFile string        `toml:"password_file"` // wins over password_env
	Mailbox      string        `toml:"mailbox"`       // "INBOX"
	Processed    string        `toml:"processed"`     // "Herald/Processed": where recognised messages are moved
	Interval     feed.Duration `toml:"interval"`      // 5m
}

// SESConfig is [bounce.ses]: Amazon SES notifications through SNS at
// /bounces/ses. TopicARN enables it: only messages of that topic, signed
// by SNS, are accepted.
type SESConfig struct {
	TopicARN string `toml:"topic_arn"`
}

// PostmarkConfig is [bounce.postmark]: Postmark's bounce and spam
// complaint webhooks at /bounces/postmark, authenticated by HTTP Basic
// credentials (set them in the webhook URL at Postmark). A password
// enables it.
type PostmarkConfig struct {
	Username     string `toml:"username"`      // "herald"
	PasswordEnv  string `toml:"password_env"`  // e.g. "HERALD_POSTMARK_PASSWORD"
	PasswordFile string `toml:"password_file"` // wins over password_env
}

// MailgunConfig is [bounce.mailgun]: Mailgun's webhooks at
// /bounces/mailgun, verified with the HTTP webhook signing key (HMAC).
type MailgunConfig struct {
	SigningKeyEnv  string `toml:"signing_key_env"`
	SigningKeyFile string `toml:"signing_key_file"`
}

// SendGridConfig is [bounce.sendgrid]: SendGrid's signed event webhook
// at /bounces/sendgrid, verified with its verification key (ECDSA).
type SendGridConfig struct {
	// PublicKey is the verification key SendGrid shows (base64 of the
	// DER public key; PEM works too). It is public: it may sit in the file.
	PublicKey string `toml:"public_key"`
}

// Protocols of the receiver.
const (
	ProtocolLMTP = "lmtp"
	ProtocolSMTP = "smtp"
)

// Default returns the [bounce] defaults.
func Default() Config {
	return Config{
		Protocol:   ProtocolLMTP,
		SoftLimit:  3,
		SoftWindow: feed.Duration{Duration: 30 * 24 * time.Hour},
		KeepRaw:    feed.Duration{Duration: 30 * 24 * time.Hour},
		IMAP: IMAPConfig{Port: 993, PasswordEnv: "HERALD_IMAP_PASSWORD", Mailbox: "INBOX",
			Processed: "Herald/Processed", Interval: feed.Duration{Duration: 5 * time.Minute}},
		Postmark: PostmarkConfig{Username: "herald"},
	}
}

// Validate checks the section; messages name the key. Secrets are read
// (to check that they are there) but never shown.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("bounce."+key+": "+format, args...))
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			bad("listen", "want host:port, got %q", c.Listen)
		}
	}
	switch c.Protocol {
	case "":
		c.Protocol = ProtocolLMTP
	case ProtocolLMTP, ProtocolSMTP:
	default:
		bad("protocol", "must be %q or %q, got %q", ProtocolLMTP, ProtocolSMTP, c.Protocol)
	}
	if c.SoftLimit < 1 {
		bad("soft_limit", "must be at least 1, got %d", c.SoftLimit)
	}
	if c.SoftWindow.Duration <= 0 {
		bad("soft_window", "must be positive, got %s", c.SoftWindow.Duration)
	}
	if c.KeepRaw.Duration < 0 {
		bad("keep_raw", "must not be negative, got %s", c.KeepRaw.Duration)
	}
	if im := &c.IMAP; im.Host != "" {
		if im.Port < 1 || im.Port > 65535 {
			bad("imap.port", "must be 1-65535, got %d", im.Port)
		}
		if im.Username == "" {
			bad("imap.username", "is required with bounce.imap.host")
		}
		if _, err := secret(im.PasswordEnv, im.PasswordFile); err != nil {
			bad("imap.password_env", "%v", err)
		}
		if im.Mailbox == "" || im.Processed == "" || strings.EqualFold(im.Mailbox, im.Processed) {
			bad("imap.processed", "must be set and differ from bounce.imap.mailbox")
		}
		if im.Interval.Duration < 10*time.Second {
			bad("imap.interval", "must be at least 10s, got %s", im.Interval.Duration)
		}
	}
	if a := c.SES.TopicARN; a != "" && (!strings.HasPrefix(a, "arn:aws") || strings.Count(a, ":") != 5) {
		bad("ses.topic_arn", "want arn:aws:sns:REGION:ACCOUNT:TOPIC, got %q", a)
	}
	if p := &c.Postmark; p.PasswordEnv != "" || p.PasswordFile != "" {
		if _, err := secret(p.PasswordEnv, p.PasswordFile); err != nil {
			bad("postmark.password_env", "%v", err)
		}
		if p.Username == "" {
			bad("postmark.username", "must not be empty")
		}
	}
	if m := &c.Mailgun; m.SigningKeyEnv != "" || m.SigningKeyFile != "" {
		if _, err := secret(m.SigningKeyEnv, m.SigningKeyFile); err != nil {
			bad("mailgun.signing_key_env", "%v", err)
		}
	}
	if c.SendGrid.PublicKey != "" {
		if _, err := ParseSendGridKey(c.SendGrid.PublicKey); err != nil {
			bad("sendgrid.public_key", "%v", err)
		}
	}
	return errors.Join(errs...)
}

// IMAPPassword returns the IMAP password (file first, then environment).
func (c *Config) IMAPPassword() (string, error) {
	return secret(c.IMAP.PasswordEnv, c.IMAP.PasswordFile)
}

// PostmarkPassword returns the Postmark webhook password; "" = disabled.
func (c *Config) PostmarkPassword() (string, error) {
	if c.Postmark.PasswordEnv == "" && c.Postmark.PasswordFile == "" {
		return "", nil
	}
	return secret(c.Postmark.PasswordEnv, c.Postmark.PasswordFile)
}

// MailgunKey returns the Mailgun signing key; "" = disabled.
func (c *Config) MailgunKey() (string, error) {
	if c.Mailgun.SigningKeyEnv == "" && c.Mailgun.SigningKeyFile == "" {
		return "", nil
	}
	return secret(c.Mailgun.SigningKeyEnv, c.Mailgun.SigningKeyFile)
}

// secret reads a secret from file (first line, trimmed) or else from the
// environment variable env. It must not be empty.
func secret(env, file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading the secret file: %w", err)
		}
		s, _, _ := strings.Cut(string(b), "\n")
		if s = strings.TrimSpace(s); s == "" {
			return "", fmt.Errorf("secret file %s is empty", file)
		}
		return s, nil
	}
	if env == "" {
		return "", errors.New("name an environment variable or a file")
	}
	v := strings.TrimSpace(os.Getenv(env))
	if v == "" {
		return "", fmt.Errorf("environment variable %s is not set", env)
	}
	return v, nil
}

// ParseSendGridKey parses SendGrid's verification key: base64 of the DER
// (PKIX) ECDSA public key, or the same in PEM.
func ParseSendGridKey(s string) (*ecdsa.PublicKey, error) {
	s = strings.TrimSpace(s)
	var der []byte
	if blk, _ := pem.Decode([]byte(s)); blk != nil {
		der = blk.Bytes
	} else {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, errors.New("not base64 or PEM")
		}
		der = b
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("not a public key: %w", err)
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("not an ECDSA key")
	}
	return ek, nil
}
