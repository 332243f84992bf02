package mailer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"herald/schedule/store"
)

// Confirmation tokens carry a generation (see confirmToken), so their
// purpose is PurposeConfirm + ":" + generation; unsubscribe tokens use
// PurposeUnsubscribe as the newsletters do.

// Field and token size limits of the web handlers.
const (
	maxEmailLen = 254 // RFC 5321 path limit
	maxNameLen  = 100
	maxTokenLen = 512
)

// WebStore is what the web handlers need from the subscriber store
// (*sqlite.DB implements it).
type WebStore interface {
	AddSubscriber(ctx context.Context, now time.Time, email, name string, status store.SubscriberStatus, source store.SubscriberSource) (store.Subscriber, bool, error)
	SubscriberByID(ctx context.Context, id int64) (store.Subscriber, error)
	SetSubscriberStatus(ctx context.Context, now time.Time, id int64, status store.SubscriberStatus) (bool, error)
}

// PendingDeleter is implemented by a WebStore that can delete the pending
// subscriptions created before a time; Web.Sweep uses it when the store
// has it.
type PendingDeleter interface {
	DeletePending(ctx context.Context, olderThan time.Time) (int64, error)
}

// ConfirmationComposer builds the double opt-in mail (*Composer implements it).
type ConfirmationComposer interface {
	Confirmation(r Recipient, confirmURL string, validFor time.Duration) (*Message, error)
}

// WebOptions configures the subscription pages. WebConfig is their part of
// the [server] section (zero fields take the defaults of DefaultWeb); the
// rest comes from [site] and the parts main builds once.
type WebOptions struct {
	WebConfig

	SiteTitle string // shown on every page
	SiteURL   string // optional link back to the blog
	Language  string // the pages' lang attribute, "en"
	Secret    []byte // token secret, at least 16 bytes

	ConfirmTTL time.Duration // validity of a confirmation link, 48h (at most PendingTTL)

	Store     WebStore
	Composer  ConfirmationComposer
	Transport Transport
	Clock     TimerClock   // nil: the system clock
	Logger    *slog.Logger // nil: discard
}

// Web serves the subscribe, confirm and unsubscribe pages. Create it with
// NewWeb, mount it with Register, and run its janitor with Run.
type Web struct {
	opts     WebOptions
	clock    TimerClock
	now      func() time.Time
	log      *slog.Logger
	pages    *pages
	perIP    *rateLimiter
	perAddr  *rateLimiter
	pending  *rateLimiter
	sendSem  chan struct{}
	wg       sync.WaitGroup
	sendBase context.Context
	stopSend context.CancelFunc // cancels sendBase: shutdown took too long
}

// NewWeb checks opts, fills defaults and returns the handlers.
func NewWeb(opts WebOptions) (*Web, error) {
	u, err := url.Parse(opts.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("mailer: web: public URL must be an absolute http(s) URL, got %q", opts.PublicURL)
	}
	opts.PublicURL = strings.TrimRight(opts.PublicURL, "/")
	if len(opts.Secret) < 16 {
		return nil, errors.New("mailer: web: token secret must be at least 16 bytes")
	}
	if opts.Store == nil || opts.Composer == nil || opts.Transport == nil {
		return nil, errors.New("mailer: web: Store, Composer and Transport are required")
	}
	if opts.SiteTitle == "" {
		opts.SiteTitle = u.Host
	}
	if opts.Language == "" {
		opts.Language = "en"
	}
	if opts.ConfirmTTL <= 0 {
		opts.ConfirmTTL = 48 * time.Hour
	}
	opts.WebConfig = opts.WebConfig.withDefaults()
	if opts.ConfirmTTL > opts.PendingTTL.Duration {
		// A link must not outlive the pending row it confirms.
		opts.ConfirmTTL = opts.PendingTTL.Duration
	}
	clock := orSystem(opts.Clock)
	w := &Web{
		opts:    opts,
		clock:   clock,
		now:     clock.Now,
		log:     opts.Logger,
		perIP:   newRateLimiter(opts.PerIP, time.Hour, 1<<16),
		perAddr: newRateLimiter(opts.PerAddress, time.Hour, 1<<16),
		pending: newRateLimiter(opts.PendingPerHour, time.Hour, 1),
		sendSem: make(chan struct{}, 4),
	}
	w.sendBase, w.stopSend = context.WithCancel(context.Background())
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.pages, err = newPages(opts.SiteTitle, opts.SiteURL, opts.Language); err != nil {
		return nil, err
	}
	return w, nil
}

// Register mounts GET/POST /subscribe, GET/POST /confirm and GET/POST
// /unsubscribe on mux (GET patterns also answer HEAD). GET and HEAD never
// change a subscription: link scanners and previews fetch every link in a
// mail, so confirming and unsubscribing take the POST of a button.
func (w *Web) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /subscribe", w.subscribeForm)
	mux.HandleFunc("POST /subscribe", w.subscribe)
	mux.HandleFunc("GET /confirm", w.confirmForm)
	mux.HandleFunc("POST /confirm", w.confirm)
	mux.HandleFunc("GET /unsubscribe", w.unsubscribeForm)
	mux.HandleFunc("POST /unsubscribe", w.unsubscribe)
}

// Run deletes unconfirmed subscriptions older than PendingTTL and prunes the
// rate-limit state, at once and then hourly, until ctx is cancelled; it then
// waits for confirmation mails still being sent and returns nil.
func (w *Web) Run(ctx context.Context) error {
	if _, ok := w.opts.Store.(PendingDeleter); !ok {
		w.log.Warn("web: the store cannot delete pending subscriptions; unconfirmed ones are kept")
	}
	t := w.clock.NewTimer(time.Hour)
	defer t.Stop()
	for {
		if err := w.Sweep(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("web: sweeping pending subscriptions", "err", err)
		}
		select {
		case <-ctx.Done():
			// Let confirmation mails in flight finish, briefly: a hung
			// mail server must not hold up the shutdown.
			grace := w.clock.NewTimer(shutdownGrace)
			sent := make(chan struct{})
			go func() {
				select {
				case <-grace.C():
					w.stopSend()
				case <-sent:
				}
			}()
			w.Wait()
			close(sent)
			grace.Stop()
			return nil
		case <-t.C():
			t.Reset(time.Hour)
		}
	}
}

// Sweep runs one pass of the janitor at Now: it deletes the pending
// subscriptions created before Now-PendingTTL (when the store implements
// PendingDeleter) and forgets idle rate-limit buckets.
func (w *Web) Sweep(ctx context.Context) error {
	now := w.now()
	w.perIP.Prune(now)
	w.perAddr.Prune(now)
	w.pending.Prune(now)
	d, ok := w.opts.Store.(PendingDeleter)
	if !ok {
		return nil
	}
	n, err := d.DeletePending(ctx, now.Add(-w.opts.PendingTTL.Duration))
	if err != nil {
		return fmt.Errorf("mailer: web: %w", err)
	}
	if n > 0 {
		w.log.Info("web: deleted unconfirmed subscriptions", "count", n, "older_than", w.opts.PendingTTL.Duration)
	}
	return nil
}

// shutdownGrace bounds how long Run waits for confirmation mails in flight
// once its context is cancelled.
const shutdownGrace = 10 * time.Second

// Wait blocks until the confirmation mails being sent in the background are
// sent (or have failed).
func (w *Web) Wait() { w.wg.Wait() }
