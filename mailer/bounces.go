package mailer

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"herald/mailer/bounce"
	"herald/schedule/store"
)

// BounceStore is what bounce processing needs of the database.
type BounceStore interface {
	RecordBounce(ctx context.Context, now time.Time, ev store.NewBounce, p store.BouncePolicy) (store.BounceEvent, error)
	Subscriber(ctx context.Context, email string) (store.Subscriber, error)
}

// BouncesOptions configures NewBounces.
type BouncesOptions struct {
	Store  BounceStore
	Config *bounce.Config // the validated [bounce] section
	// BounceAddress is mail.bounce_address; "" = no VERP (bounces are then
	// matched by the Message-ID they quote, webhooks by address).
	BounceAddress string
	Secret        []byte // the token secret (LoadSecret): signs VERP addresses and Message-IDs
	Clock         Clock  // nil: the system clock
	Logger        *slog.Logger
}

// Bounces turns what comes back (bounce messages, webhook events) into
// recorded events and applies the [bounce] policy through the store.
type Bounces struct {
	store   BounceStore
	verp    *bounce.VERP
	secret  []byte
	policy  store.BouncePolicy
	keepRaw bool
	now     func() time.Time
	log     *slog.Logger
}

// NewBounces checks opts and returns a Bounces.
func NewBounces(opts BouncesOptions) (*Bounces, error) {
	if opts.Store == nil || opts.Config == nil {
		return nil, errors.New("mailer: bounces need a store and the [bounce] section")
	}
	if len(opts.Secret) < minSecretLen {
		return nil, errors.New("mailer: bounces need the token secret")
	}
	b := &Bounces{store: opts.Store, secret: opts.Secret, now: nowFunc(opts.Clock), log: opts.Logger,
		policy:  store.BouncePolicy{SoftLimit: opts.Config.SoftLimit, SoftWindow: opts.Config.SoftWindow.Duration},
		keepRaw: opts.Config.KeepRaw.Duration > 0}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if opts.BounceAddress != "" {
		v, err := bounce.NewVERP(opts.BounceAddress, opts.Secret)
		if err != nil {
			return nil, fmt.Errorf("mailer: mail.bounce_address: %w", err)
		}
		b.verp = v
	}
	return b, nil
}

// VERP returns the VERP of mail.bounce_address, nil without one.
func (b *Bounces) VERP() *bounce.VERP { return b.verp }

// Processed is what Process did with one message.
type Processed struct {
	Format string              // bounce.Format…
	Forged bool                // a VERP address whose signature did not verify: nothing was recorded
	Events []store.BounceEvent // as recorded (Outcome says what each did)
}

// Recognised reports whether the message was a bounce, complaint or
// auto-reply that Herald recorded (the IMAP poller moves those).
func (p Processed) Recognised() bool { return len(p.Events) > 0 }

// Process reads one message that arrived at the bounce address (envelope:
// its RCPT TO addresses, when known) and records what it says. A message
// names its delivery by its VERP address or, without one, by the Herald
// Message-ID it quotes; both are signed, so a forged message changes
// nothing. Non-standard bounces count only with a VERP match; a message
// matching no delivery is recorded as unmatched and changes nothing. The
// error is for the database only: the message should be offered again.
func (b *Bounces) Process(ctx context.Context, envelope []string, raw []byte) (Processed, error) {
	rep, err := bounce.Parse(raw, envelope, b.verp)
	if errors.Is(err, bounce.ErrBadTag) {
		b.log.Warn("bounce with a forged or damaged VERP address ignored", "err", err)
		return Processed{Format: bounce.FormatUnknown, Forged: true}, nil
	}
	if err != nil {
		b.log.Warn("unreadable message at the bounce address ignored", "err", err)
		return Processed{Format: bounce.FormatUnknown}, nil
	}
	out := Processed{Format: rep.Format}
	if len(rep.Events) == 0 {
		b.log.Info("message at the bounce address not recognised", "subject", rep.Subject, "from", rep.From)
		return out, nil
	}
	var mailing, sub int64
	switch {
	case rep.Tag != nil:
		mailing, sub = rep.Tag.Mailing, rep.Tag.Subscriber
	case rep.MessageID != "":
		mailing, sub, _ = matchMessageID(b.secret, rep.MessageID)
	}
	for i, ev := range rep.Events {
		nb := b.newBounce(ev, mailing, sub)
		if i == 0 && b.keepRaw { // the raw message is kept once, on its first event
			nb.Raw = raw
		}
		rec, err := b.record(ctx, nb)
		if err != nil {
			return out, err
		}
		out.Events = append(out.Events, rec)
	}
	return out, nil
}

// Webhook records the verified events of one webhook request (the
// bounce.Sink of the webhooks). Each is matched by the Herald Message-ID
// it carries, else by its address.
func (b *Bounces) Webhook(ctx context.Context, events []bounce.Event) error {
	for _, ev := range events {
		mailing, sub, ok := matchMessageID(b.secret, ev.MessageID)
		if !ok && ev.Recipient != "" {
			s, err := b.store.Subscriber(ctx, ev.Recipient)
			switch {
			case err == nil:
				sub = s.ID
			case !errors.Is(err, store.ErrNotFound):
				return fmt.Errorf("mailer: bounce webhook: %w", err)
			}
		}
		if _, err := b.record(ctx, b.newBounce(ev, mailing, sub)); err != nil {
			return err
		}
	}
	return nil
}

func (b *Bounces) newBounce(ev bounce.Event, mailing, sub int64) store.NewBounce {
	return store.NewBounce{SubscriberID: sub, MailingID: mailing, Email: ev.Recipient, Type: string(ev.Type),
		Source: ev.Source, Action: ev.Action, Status: ev.Status, Diagnostic: ev.Diagnostic}
}

func (b *Bounces) record(ctx context.Context, nb store.NewBounce) (store.BounceEvent, error) {
	rec, err := b.store.RecordBounce(ctx, b.now(), nb, b.policy)
	if err != nil {
		return rec, fmt.Errorf("mailer: recording a bounce: %w", err)
	}
	b.log.Info("bounce recorded", "type", rec.Type, "source", rec.Source, "subscriber", rec.SubscriberID,
		"mailing", rec.MailingID, "status", rec.Status, "outcome", rec.Outcome)
	return rec, nil
}

// matchMessageID checks a Message-ID made by Mailer.mailingMessageID
// ("herald.MAILING.SUBSCRIBER.POSTS.INSTALL.MAC@domain", or the older
// "herald.MAILING.SUBSCRIBER.MAC@domain" of mail sent by earlier versions)
// and returns the mailing and the subscriber it names.
func matchMessageID(secret []byte, id string) (mailing, sub int64, ok bool) {
	id = strings.Trim(strings.TrimSpace(id), "<>")
	left, _, found := strings.Cut(id, "@")
	if !found || !strings.HasPrefix(left, "herald.") {
		return 0, 0, false
	}
	parts := strings.Split(left[len("herald."):], ".")
	if len(parts) != 3 && len(parts) != 5 {
		return 0, 0, false
	}
	a, err1 := strconv.ParseInt(parts[0], 10, 64)
	s, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || a <= 0 || s <= 0 {
		return 0, 0, false
	}
	mac := parts[len(parts)-1]
	var want string
	if len(parts) == 5 {
		want = messageIDMAC(secret, "mailing", a, s, parts[2], parts[3])
	} else {
		h := hmac.New(sha256.New, secret)
		fmt.Fprintf(h, "message-id|%s|%d|%d", "mailing", a, s)
		want = hex.EncodeToString(h.Sum(nil)[:4])
	}
	if !hmac.Equal([]byte(strings.ToLower(mac)), []byte(want)) {
		return 0, 0, false
	}
	return a, s, true
}

// initVERP sets up the VERP envelope senders of mail.bounce_address.
func (m *Mailer) initVERP() error {
	if m.cfg.BounceAddress == "" {
		return nil
	}
	v, err := bounce.NewVERP(m.cfg.BounceAddress, m.secret)
	if err != nil {
		return fmt.Errorf("mailer: mail.bounce_address: %w", err)
	}
	m.verp = v
	return nil
}

// setSender makes msg's envelope sender (Return-Path) the VERP address of
// the delivery of mailing to subscriber; without mail.bounce_address it
// stays the From address. msg may be nil (rendering failed).
func (m *Mailer) setSender(msg *Message, mailing, subscriber int64) {
	if m.verp != nil && msg != nil {
		msg.from = m.verp.Encode(bounce.Tag{Mailing: mailing, Subscriber: subscriber})
	}
}

// validBounceAddress checks mail.bounce_address: a bare address whose local
// part can carry a VERP tag.
func validBounceAddress(addr string) error {
	if a, name, err := ParseAddress(addr); err != nil || a != addr || name != "" {
		return fmt.Errorf("want a bare address such as bounces@example.com, got %q", addr)
	}
	_, err := bounce.NewVERP(addr, []byte("validation-only-secret"))
	return err
}

var reEnhanced = regexp.MustCompile(`(?:^|[^0-9.])([45]\.[0-9]{1,3}\.[0-9]{1,3})(?:[^0-9.]|$)`)

// smtpBounce records a permanent (5xx) answer of the SMTP server at send
// time as a bounce event (source "smtp"): a hard bounce, which suppresses
// the address, when it is about the recipient (enhanced status 5.1.x or
// 5.2.1, or without one the replies 550, 551 and 553); any other 5xx
// (content, policy, size) is recorded and changes nothing.
func (m *Mailer) smtpBounce(log *slog.Logger, d store.Delivery, code int, text string) {
	if code < 500 || code > 599 {
		return
	}
	status := ""
	if sm := reEnhanced.FindStringSubmatch(text); sm != nil {
		status = sm[1]
	}
	typ := store.BounceOther
	switch {
	case strings.HasPrefix(status, "5.1.") || status == "5.2.1":
		typ = store.BounceHard
	case status == "" && (code == 550 || code == 551 || code == 553):
		typ = store.BounceHard
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The policy only matters for soft bounces, which this never is.
	ev, err := m.db.RecordBounce(ctx, m.now(), store.NewBounce{SubscriberID: d.SubscriberID, MailingID: d.MailingID,
		Email: d.Email, Type: typ, Source: "smtp", Action: "failed", Status: status, Diagnostic: oneLine(text)},
		store.BouncePolicy{SoftLimit: 1, SoftWindow: time.Hour})
	if err != nil {
		log.Error("recording the SMTP rejection as a bounce", "err", err)
		return
	}
	log.Info("bounce recorded", "type", ev.Type, "source", ev.Source, "status", status, "outcome", ev.Outcome)
}

// oneLine folds s to one line of at most 1000 bytes.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 1000 {
		s = strings.ToValidUTF8(s[:1000], "")
	}
	return s
}
