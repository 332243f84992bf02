package bounce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// Deliver takes one message that arrived for the bounce address, with
// its envelope recipients. It returns an error only when the message could
// not be recorded and should be offered again (a database failure); a
// message it does not understand, or a forgery, is accepted and dropped.
type Deliver func(ctx context.Context, envelope []string, raw []byte) error

// Receiver is the LMTP (or SMTP) server an MTA hands bounces to. It
// accepts recipients at the bounce address's domain only and refuses
// everything else; it never relays.
type Receiver struct {
	srv     *smtp.Server
	domain  string
	deliver Deliver
	log     *slog.Logger
	ctx     context.Context
	conns   conns
}

// NewReceiver returns a receiver for mail to domain (the bounce address's
// domain) speaking protocol (ProtocolLMTP or ProtocolSMTP), handing each
// message to deliver.
func NewReceiver(domain, protocol string, deliver Deliver, log *slog.Logger) *Receiver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Receiver{domain: strings.ToLower(domain), deliver: deliver, log: log}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{r: r, conn: c.Conn()}, nil
	}))
	s.LMTP = protocol != ProtocolSMTP
	s.Domain = "herald"
	s.MaxMessageBytes = MaxMessageSize
	s.MaxRecipients = 50
	s.ReadTimeout = 2 * time.Minute
	s.WriteTimeout = 2 * time.Minute
	s.ErrorLog = slogLogger{log}
	r.srv = s
	return r
}

// Serve answers on ln until ctx is canceled, then closes ln and the idle
// connections at once and waits up to 10 s for the transactions in
// progress (each connection is closed when its transaction ends), then
// closes the rest.
func (r *Receiver) Serve(ctx context.Context, ln net.Listener) error {
	r.ctx = context.WithoutCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- r.srv.Serve(trackedListener{Listener: ln, cs: &r.conns}) }()
	select {
	case err := <-errc:
		return fmt.Errorf("bounce: receiver: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	r.conns.stop()
	if err := r.srv.Shutdown(sctx); err != nil {
		// srv.Close would do nothing now: Shutdown already marked the
		// server closed.
		r.conns.closeAll()
	}
	if err := <-errc; err != nil && !errors.Is(err, smtp.ErrServerClosed) {
		return fmt.Errorf("bounce: receiver: %w", err)
	}
	return nil
}

// shutdownGrace bounds how long a stopping receiver waits for the
// transactions in progress.
const shutdownGrace = 10 * time.Second

type session struct {
	r     *Receiver
	conn  net.Conn
	rcpts []string
}

// Reset ends a transaction (RSET, or after the replies to DATA were
// written).
func (s *session) Reset() {
	s.rcpts = nil
	s.r.conns.setBusy(s.conn, false)
}

func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error { return nil }

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	_, domain, ok := splitAddr(strings.ToLower(strings.TrimSpace(to)))
	if !ok || domain != s.r.domain {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
			Message: "only mail for " + s.r.domain + " is accepted here"}
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

// Data receives a message. Until its replies are written (Reset) the
// connection is busy: a stopping receiver waits for it.
func (s *session) Data(rd io.Reader) error {
	s.r.conns.setBusy(s.conn, true)
	raw, err := io.ReadAll(io.LimitReader(rd, MaxMessageSize+1))
	if err != nil {
		return err
	}
	if len(raw) > MaxMessageSize {
		return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "message too big"}
	}
	if err := s.r.deliver(s.r.ctx, s.rcpts, raw); err != nil {
		s.r.log.Error("bounce not recorded; the MTA will retry", "err", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "not recorded, try again later"}
	}
	return nil
}

// slogLogger adapts go-smtp's error log.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(format string, v ...any) {
	s.l.Warn("bounce receiver", "msg", fmt.Sprintf(format, v...))
}
func (s slogLogger) Println(v ...any) { s.l.Warn("bounce receiver", "msg", fmt.Sprint(v...)) }
