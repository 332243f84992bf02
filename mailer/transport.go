package mailer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"regexp"
	"strings"
	"syscall"
)

// Transport delivers messages. Open one Conn per worker.
type Transport interface {
	Open(ctx context.Context) (Conn, error)
}

// Conn is one delivery channel (an SMTP connection, a Maildir writer). It is
// used by one goroutine at a time.
//
// Send returns nil or a *SendError. After a *SendError whose ConnBroken() is
// true (Temporary with Code 0, or Code 421) the caller must Close the Conn and
// Open a new one before sending again; after any other error the Conn has been
// reset (RSET) and the next Send works.
type Conn interface {
	Send(ctx context.Context, m *Message) error
	Close() error
}

// NewTransport returns the transport cfg.Transport names: maildir or smtp.
// cfg must be validated.
func NewTransport(cfg *Config, logger *slog.Logger) (Transport, error) {
	switch cfg.Transport {
	case TransportMaildir, "":
		return NewMaildirTransport(cfg.Maildir), nil
	case TransportSMTP:
		return NewSMTPTransport(cfg, logger, SMTPOptions{})
	}
	return nil, fmt.Errorf("mailer: mail.transport: unknown transport %q", cfg.Transport)
}

// SendError describes why a message (or a connection) failed.
type SendError struct {
	Code      int    // SMTP reply code; 0 for network and local errors
	Enhanced  string // enhanced status code ("4.7.1") when the server sent one
	Text      string // the server's reply text, or a description
	Temporary bool   // worth retrying: 4xx replies and network errors
	Throttle  bool   // the server asks to slow down: 421 and 454
	Err       error  // the underlying error
}

// Error formats the error; it never includes credentials.
func (e *SendError) Error() string {
	var b strings.Builder
	b.WriteString("mailer: ")
	if e.Code != 0 {
		fmt.Fprintf(&b, "smtp %d", e.Code)
		if e.Enhanced != "" {
			b.WriteString(" " + e.Enhanced)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Text)
	if e.Code == 0 && e.Err != nil && e.Text != e.Err.Error() {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *SendError) Unwrap() error { return e.Err }

// ConnBroken reports whether the connection is unusable after this error:
// the caller must Close and re-Open before the next Send.
func (e *SendError) ConnBroken() bool {
	return e.Temporary && e.Code == 0 || e.Code == 421
}

var enhancedRE = regexp.MustCompile(`^([245]\.\d{1,3}\.\d{1,3})\s*`)

// toSendError classifies err. what describes the step ("MAIL FROM", "dial").
func toSendError(what string, err error) *SendError {
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
	var tp *textproto.Error
	if errors.As(err, &tp) {
		e := &SendError{Code: tp.Code, Text: sanitizeLine(tp.Msg), Err: err}
		if m := enhancedRE.FindStringSubmatch(e.Text); m != nil {
			e.Enhanced = m[1]
			e.Text = e.Text[len(m[0]):]
		}
		if e.Text == "" {
			e.Text = what + " rejected"
		}
		e.Temporary = tp.Code >= 400 && tp.Code < 500
		e.Throttle = tp.Code == 421 || tp.Code == 454
		return e
	}
	e := &SendError{Text: what + " failed", Err: err}
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var ce x509.CertificateInvalidError
	var rhe tls.RecordHeaderError
	switch {
	case errors.As(err, &cve), errors.As(err, &uae), errors.As(err, &hne), errors.As(err, &ce), errors.As(err, &rhe):
		// A TLS setup problem does not fix itself by retrying.
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH):
		e.Temporary = true
	default:
		var ne net.Error
		if errors.As(err, &ne) {
			e.Temporary = true
		}
	}
	return e
}
