package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

// SMTPOptions holds what the configuration file cannot: tests inject a TLS
// configuration trusting their own certificate.
type SMTPOptions struct {
	// TLSConfig is used for STARTTLS and implicit TLS. nil: the system roots
	// (which honour SSL_CERT_FILE and SSL_CERT_DIR). ServerName defaults to
	// mail.smtp.host.
	TLSConfig *tls.Config
}

// SMTPTransport sends through an SMTP relay with go-mail: go-mail dials,
// negotiates TLS and authenticates; each Conn then runs MAIL, RCPT and DATA
// for many messages over that one connection, one recipient per message.
type SMTPTransport struct {
	cfg      SMTPConfig
	password string
	tls      *tls.Config
	logger   *slog.Logger
}

// NewSMTPTransport returns the SMTP transport for a validated cfg. It reads
// the password now (from mail.smtp.password_file or password_env) when AUTH
// is configured, and refuses AUTH without TLS.
func NewSMTPTransport(cfg *Config, logger *slog.Logger, opts SMTPOptions) (*SMTPTransport, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := cfg.SMTP
	if s.Port == 0 {
		if errs := s.validate(); len(errs) > 0 {
			return nil, fmt.Errorf("mailer: %w", errors.Join(errs...))
		}
	}
	if s.UsesAuth() && s.TLS == "none" {
		return nil, errors.New("mailer: mail.smtp.username: AUTH is never sent without TLS; set mail.smtp.tls")
	}
	if s.Timeout.Duration <= 0 {
		s.Timeout.Duration = 30 * time.Second
	}
	t := &SMTPTransport{cfg: s, logger: logger}
	if s.UsesAuth() {
		p, err := s.Password()
		if err != nil {
			return nil, err
		}
		t.password = p
	}
	if opts.TLSConfig != nil {
		t.tls = opts.TLSConfig.Clone()
	} else {
		t.tls = &tls.Config{}
	}
	if t.tls.ServerName == "" {
		t.tls.ServerName = s.Host
	}
	if t.tls.MinVersion == 0 {
		t.tls.MinVersion = tls.VersionTLS12
	}
	return t, nil
}

// Open dials the relay, negotiates TLS (mandatory STARTTLS or implicit TLS as
// configured) and authenticates. Errors are *SendError.
func (t *SMTPTransport) Open(ctx context.Context) (Conn, error) {
	s := &t.cfg
	c := &smtpConn{t: t, timeout: s.Timeout.Duration}
	dialer := &net.Dialer{Timeout: s.Timeout.Duration, KeepAlive: 30 * time.Second}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.raw = raw
		canceled := c.openCanceled
		c.mu.Unlock()
		if canceled {
			raw.Close()
			return nil, context.Canceled
		}
		if s.TLS != "tls" {
			return raw, nil
		}
		tc := tls.Client(raw, t.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return tc, nil
	}
	opts := []gomail.Option{
		gomail.WithPort(s.Port),
		gomail.WithTimeout(s.Timeout.Duration),
		gomail.WithDialContextFunc(dial),
		gomail.WithTLSConfig(t.tls),
	}
	if s.TLS == "starttls" {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	} else {
		// "tls": the dial function did the handshake; "none": plaintext.
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.HELO))
	}
	if s.UsesAuth() {
		if s.TLS == "none" { // NewSMTPTransport refuses this; never send AUTH in clear
			return nil, &SendError{Text: "AUTH is never sent without TLS"}
		}
		opts = append(opts, gomail.WithUsername(s.Username), gomail.WithPassword(t.password))
		switch s.Auth {
		case "plain":
			opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain))
		case "login":
			opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthLogin))
		case "cram-md5":
			opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthCramMD5))
		default: // auto: the strongest mechanism the server offers; TLS is guaranteed here
			opts = append(opts, gomail.WithOpportunisticSMTPAuth(
				gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthCramMD5,
				gomail.SMTPAuthPlain, gomail.SMTPAuthLogin))
		}
	}
	client, err := gomail.NewClient(s.Host, opts...)
	if err != nil {
		return nil, &SendError{Text: "configuring SMTP client", Err: err}
	}
	// go-mail bounds the greeting, EHLO, STARTTLS and AUTH by the timeout
	// only; abort them when ctx ends.
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.openCanceled = true
		if c.raw != nil {
			c.raw.SetDeadline(time.Unix(1, 0))
		}
	})
	sc, err := client.DialToSMTPClientWithContext(ctx)
	stopped := stop()
	if err == nil && !stopped {
		// ctx ended while the dial was finishing: the deadline may be in the past.
		sc.Close()
		return nil, &SendError{Text: "connect canceled", Temporary: true, Err: ctx.Err()}
	}
	if err != nil {
		if c.raw != nil {
			c.raw.Close()
		}
		se := toSendError("connecting to "+net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), err)
		if ctx.Err() != nil {
			se.Temporary = true
		}
		return nil, se
	}
	c.client = sc
	// Defence in depth: with starttls or tls the session must be encrypted.
	if s.TLS != "none" {
		if _, err := sc.GetTLSConnectionState(); err != nil {
			sc.Close()
			return nil, &SendError{Text: "connection is not encrypted although mail.smtp.tls = " + s.TLS, Err: err}
		}
	}
	t.logger.Debug("smtp connected", "host", s.Host, "port", s.Port, "tls", s.TLS, "auth", s.UsesAuth())
	return c, nil
}

type smtpConn struct {
	t       *SMTPTransport
	client  *gosmtp.Client
	raw     net.Conn // the TCP connection, to abort I/O when ctx is canceled
	timeout time.Duration
	mu      sync.Mutex
	broken  bool
	closed  bool

	openCanceled bool // Open's ctx ended

}

// Send runs MAIL FROM (the message's From address), RCPT TO (its one
// recipient) and DATA. On a rejected message it resets the session (RSET) so
// the next Send works; a network error or 421 leaves the Conn broken.
func (c *smtpConn) Send(ctx context.Context, m *Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.broken {
		return &SendError{Text: "connection is broken or closed; re-open it", Temporary: true}
	}
	if err := ctx.Err(); err != nil {
		return &SendError{Text: "send canceled", Temporary: true, Err: err}
	}
	timeout := c.timeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	if err := c.client.UpdateDeadline(timeout); err != nil {
		c.broken = true
		return toSendError("setting deadline", err)
	}
	stop := context.AfterFunc(ctx, func() { c.raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	se := c.transaction(m)
	if se == nil {
		return nil
	}
	if ctx.Err() != nil {
		c.broken = true
		c.client.Close()
		return &SendError{Text: "send canceled", Temporary: true, Err: ctx.Err()}
	}
	if se.ConnBroken() {
		c.broken = true
		c.client.Close()
		return se
	}
	// The server rejected this message; RSET so the connection serves the
	// next one. If even RSET fails the connection is marked broken: the next
	// Send says so (Temporary, Code 0) and the caller re-opens.
	if err := c.client.Reset(); err != nil {
		c.broken = true
		c.client.Close()
	}
	return se
}

func (c *smtpConn) transaction(m *Message) *SendError {
	if err := c.client.Mail(m.From()); err != nil {
		return toSendError("MAIL FROM", err)
	}
	if err := c.client.Rcpt(m.To()); err != nil {
		return toSendError("RCPT TO", err)
	}
	w, err := c.client.Data()
	if err != nil {
		return toSendError("DATA", err)
	}
	if _, err := m.WriteTo(w); err != nil {
		w.Close()
		return toSendError("writing message", err)
	}
	if err := w.Close(); err != nil {
		return toSendError("end of DATA", err)
	}
	return nil
}

// Broken reports whether the connection can no longer be used.
func (c *smtpConn) Broken() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.broken || c.closed
}

// Close sends QUIT (on a healthy connection) and closes it.
func (c *smtpConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.broken {
		c.client.Close()
		return nil
	}
	_ = c.client.UpdateDeadline(5 * time.Second)
	if err := c.client.Quit(); err != nil {
		c.client.Close()
		return fmt.Errorf("mailer: closing SMTP connection: %w", err)
	}
	return nil
}
