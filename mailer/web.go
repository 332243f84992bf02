package mailer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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
	Clock     Clock        // nil: the system clock
	Logger    *slog.Logger // nil: discard
}

// Web serves the subscribe, confirm and unsubscribe pages. Create it with
// NewWeb, mount it with Register, and run its janitor with Run.
type Web struct {
	opts     WebOptions
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
	w := &Web{
		opts:    opts,
		now:     nowFunc(opts.Clock),
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
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := w.Sweep(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("web: sweeping pending subscriptions", "err", err)
		}
		select {
		case <-ctx.Done():
			// Let confirmation mails in flight finish, briefly: a hung
			// mail server must not hold up the shutdown.
			grace := time.AfterFunc(shutdownGrace, w.stopSend)
			w.Wait()
			grace.Stop()
			return nil
		case <-t.C:
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

// ---- GET/POST /subscribe ----

func (w *Web) subscribeForm(rw http.ResponseWriter, r *http.Request) {
	w.render(rw, http.StatusOK, pageSubscribe, pageData{})
}

// subscribeRequest is the body of POST /subscribe (form fields or JSON).
type subscribeRequest struct {
	Email   string `json:"email"`
	Name    string `json:"name"`
	Website string `json:"website"` // the honeypot: people leave it empty
}

func (w *Web) subscribe(rw http.ResponseWriter, r *http.Request) {
	now := w.now()
	asJSON := wantsJSON(r)
	ip := w.clientIP(r)
	if ok, retry := w.perIP.Allow(ip, now); !ok {
		w.log.Info("web: subscribe rate limit (IP)", "ip", ip)
		w.tooMany(rw, asJSON, retry)
		return
	}
	req, status, err := w.readSubscribe(rw, r)
	if err != nil {
		w.fail(rw, asJSON, status, err.Error(), req.Email)
		return
	}
	if req.Website != "" {
		// A bot filled the hidden field: answer as if all went well.
		w.log.Info("web: subscribe honeypot filled", "ip", ip)
		w.subscribed(rw, asJSON, req.Email)
		return
	}
	email, name, err := checkSubscriber(req.Email, req.Name)
	if err != nil {
		w.fail(rw, asJSON, http.StatusBadRequest, err.Error(), req.Email)
		return
	}
	if ok, retry := w.perAddr.Allow(strings.ToLower(email), now); !ok {
		w.log.Info("web: subscribe rate limit (address)", "ip", ip)
		w.tooMany(rw, asJSON, retry)
		return
	}
	if ok, retry := w.pending.Allow("", now); !ok {
		w.log.Warn("web: subscribe rate limit (confirmations per hour)", "limit", w.opts.PendingPerHour)
		w.tooMany(rw, asJSON, retry)
		return
	}
	// Storing and mailing happen in the background for every address, so
	// the answer (status, body and timing) says nothing about whether the
	// address was known.
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		select {
		case w.sendSem <- struct{}{}:
		case <-w.sendBase.Done():
			w.log.Warn("web: shutting down: confirmation mail not sent", "err", w.sendBase.Err())
			return
		}
		defer func() { <-w.sendSem }()
		ctx, cancel := context.WithTimeout(w.sendBase, 2*time.Minute)
		defer cancel()
		if err := w.startSubscription(ctx, email, name); err != nil {
			w.log.Error("web: subscribe", "err", err)
		}
	}()
	w.subscribed(rw, asJSON, email)
}

// readSubscribe reads the form or JSON body under the size limit. The
// status is that of the error: 413, 415 or 400.
func (w *Web) readSubscribe(rw http.ResponseWriter, r *http.Request) (subscribeRequest, int, error) {
	var req subscribeRequest
	if r.ContentLength > w.opts.MaxBodyBytes {
		return req, http.StatusRequestEntityTooLarge, errTooLarge
	}
	r.Body = http.MaxBytesReader(rw, r.Body, w.opts.MaxBodyBytes)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var err error
	switch ct {
	case "application/json":
		dec := json.NewDecoder(r.Body)
		err = dec.Decode(&req)
	case "application/x-www-form-urlencoded", "multipart/form-data":
		if ct == "multipart/form-data" {
			err = r.ParseMultipartForm(w.opts.MaxBodyBytes)
		} else {
			err = r.ParseForm()
		}
		if err == nil {
			req.Email, req.Name, req.Website = r.PostFormValue("email"), r.PostFormValue("name"), r.PostFormValue("website")
		}
	default:
		return req, http.StatusUnsupportedMediaType, visitorError("Send the form (application/x-www-form-urlencoded or multipart/form-data) or JSON.")
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return subscribeRequest{}, http.StatusRequestEntityTooLarge, errTooLarge
		}
		return subscribeRequest{}, http.StatusBadRequest, visitorError("The request could not be read.")
	}
	if len(req.Email) > maxEmailLen || len(req.Name) > maxNameLen || len(req.Website) > maxEmailLen {
		return subscribeRequest{Email: truncateRunes(req.Email, 60)}, http.StatusBadRequest, errBadAddress
	}
	return req, 0, nil
}

// visitorError is a message for the person at the form: a sentence, shown
// as it is on the page.
type visitorError string

func (e visitorError) Error() string { return string(e) }

var (
	errTooLarge   = visitorError("The request is too large.")
	errBadAddress = visitorError("Please enter a valid email address, such as jane@example.com.")
)

// checkSubscriber validates the address (and optional name) a visitor
// typed. Line breaks and other control characters, which could inject
// headers, make the address invalid.
func checkSubscriber(rawEmail, rawName string) (email, name string, err error) {
	rawEmail = strings.TrimSpace(rawEmail)
	rawName = strings.TrimSpace(rawName)
	if rawEmail == "" || hasControl(rawEmail) || hasControl(rawName) || !utf8.ValidString(rawName) {
		return "", "", errBadAddress
	}
	email, name, err = ParseAddress(rawEmail)
	if err != nil || email == "" || hasControl(email) || strings.ContainsAny(email, "<>,; \t") {
		return "", "", errBadAddress
	}
	if name == "" {
		name = rawName
	}
	return email, truncateRunes(name, maxNameLen), nil
}

// hasControl reports whether s holds a C0 or C1 control character or DEL.
func hasControl(s string) bool {
	for _, c := range s {
		if c < 0x20 || c >= 0x7f && c < 0xa0 || c == '\u2028' || c == '\u2029' {
			return true
		}
	}
	return false
}

// startSubscription stores email as a pending web subscriber (an address
// already known keeps its status) and mails it a confirmation link. Every
// state gets the mail: a pending address asks again, an unsubscribed one
// must confirm again to come back, a confirmed one is reminded (confirming
// again changes nothing).
func (w *Web) startSubscription(ctx context.Context, email, name string) error {
	now := w.now()
	s, created, err := w.opts.Store.AddSubscriber(ctx, now, email, name, store.StatusPending, store.SourceWeb)
	if err != nil {
		return fmt.Errorf("mailer: web: storing subscriber: %w", err)
	}
	link := w.opts.PublicURL + "/confirm?token=" + url.QueryEscape(w.confirmToken(s, now))
	// The confirmation carries List-Unsubscribe too: "I never asked for
	// this" is one click, and it stops any further confirmation mail.
	unsub := w.opts.PublicURL + "/unsubscribe?token=" + url.QueryEscape(Token(w.opts.Secret, PurposeUnsubscribe, s.ID, time.Time{}))
	msg, err := w.opts.Composer.Confirmation(Recipient{Email: s.Email, Name: s.Name, UnsubscribeURL: unsub}, link, w.opts.ConfirmTTL)
	if err != nil {
		return fmt.Errorf("mailer: web: confirmation for subscriber #%d: %w", s.ID, err)
	}
	if err := w.send(ctx, msg); err != nil {
		return fmt.Errorf("mailer: web: confirmation for subscriber #%d: %w", s.ID, err)
	}
	w.log.Info("web: confirmation sent", "subscriber", s.ID, "status", s.Status, "new", created)
	return nil
}

// send opens a connection, sends m and closes it; a broken connection is
// re-opened once.
func (w *Web) send(ctx context.Context, m *Message) error {
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var c Conn
		c, err = w.opts.Transport.Open(ctx)
		if err != nil {
			continue
		}
		err = c.Send(ctx, m)
		cerr := c.Close()
		if err == nil {
			if cerr != nil {
				w.log.Warn("web: closing mail connection", "err", cerr)
			}
			return nil
		}
		var se *SendError
		if !errors.As(err, &se) || !se.ConnBroken() {
			return err
		}
	}
	return err
}

// confirmToken signs a confirmation link for s valid for ConfirmTTL. The
// token is "<generation>~<signed token>"; the generation, which is also part
// of the signed purpose, is the Unix time the row was created and the Unix
// time it last unsubscribed (0: never). So once the subscriber unsubscribes,
// links mailed before no longer confirm (coming back needs a new
// confirmation), and a link never confirms a later row that reuses the id.
func (w *Web) confirmToken(s store.Subscriber, now time.Time) string {
	gen := generation(s)
	return gen + "~" + Token(w.opts.Secret, PurposeConfirm+":"+gen, s.ID, now.Add(w.opts.ConfirmTTL))
}

func generation(s store.Subscriber) string {
	var unsub int64
	if !s.UnsubscribedAt.IsZero() {
		unsub = s.UnsubscribedAt.Unix()
	}
	return strconv.FormatInt(s.CreatedAt.Unix(), 10) + "." + strconv.FormatInt(unsub, 10)
}

// ---- GET/POST /confirm ----

// confirmForm shows the button that confirms; it changes nothing (a mail
// scanner fetching the link must not complete a double opt-in that the
// person never made).
func (w *Web) confirmForm(rw http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("token")
	s, ok := w.confirmee(rw, r, raw)
	if !ok {
		return
	}
	if s.Status == store.StatusConfirmed {
		w.render(rw, http.StatusOK, pageConfirmed, pageData{Email: s.Email, Already: true})
		return
	}
	w.render(rw, http.StatusOK, pageConfirm, pageData{Email: s.Email, Action: "confirm?token=" + url.QueryEscape(raw)})
}

// confirm confirms the subscription: the button of confirmForm.
func (w *Web) confirm(rw http.ResponseWriter, r *http.Request) {
	raw, ok := w.postedToken(rw, r)
	if !ok {
		return
	}
	s, ok := w.confirmee(rw, r, raw)
	if !ok {
		return
	}
	changed, err := w.opts.Store.SetSubscriberStatus(r.Context(), w.now(), s.ID, store.StatusConfirmed)
	if errors.Is(err, store.ErrNotFound) {
		w.render(rw, http.StatusGone, pageExpiredLink, pageData{})
		return
	}
	if err != nil {
		w.internal(rw, "confirm", err)
		return
	}
	if changed {
		w.log.Info("web: subscription confirmed", "subscriber", s.ID)
	}
	w.render(rw, http.StatusOK, pageConfirmed, pageData{Email: s.Email, Already: !changed})
}

// confirmee checks a confirmation token and returns its subscriber. When
// ok is false the answer has been written.
func (w *Web) confirmee(rw http.ResponseWriter, r *http.Request, raw string) (s store.Subscriber, ok bool) {
	gen, tok, ok := strings.Cut(raw, "~")
	if !ok || len(raw) > maxTokenLen || len(gen) > 41 {
		w.render(rw, http.StatusBadRequest, pageInvalidLink, pageData{})
		return s, false
	}
	id, err := ParseToken(w.opts.Secret, PurposeConfirm+":"+gen, tok, w.now())
	if err != nil {
		w.tokenProblem(rw, err)
		return s, false
	}
	s, err = w.opts.Store.SubscriberByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && generation(s) != gen {
		// Deleted while pending, removed, or unsubscribed since the link
		// was sent.
		w.render(rw, http.StatusGone, pageExpiredLink, pageData{})
		return s, false
	}
	if err != nil {
		w.internal(rw, "confirm", err)
		return s, false
	}
	return s, true
}

// postedToken reads a POST's body within MaxBodyBytes (its content does not
// matter beyond a "token" field) and returns the token of the query, or of
// the form. When ok is false the answer has been written.
func (w *Web) postedToken(rw http.ResponseWriter, r *http.Request) (raw string, ok bool) {
	tooLarge := func() (string, bool) {
		w.render(rw, http.StatusRequestEntityTooLarge, pageProblem, pageData{Heading: "Request too large", Message: errTooLarge.Error()})
		return "", false
	}
	if r.ContentLength > w.opts.MaxBodyBytes {
		return tooLarge()
	}
	r.Body = http.MaxBytesReader(rw, r.Body, w.opts.MaxBodyBytes)
	var err error
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" {
		err = r.ParseMultipartForm(w.opts.MaxBodyBytes)
	} else {
		err = r.ParseForm()
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge()
	}
	raw = r.URL.Query().Get("token")
	if raw == "" && err == nil {
		raw = r.PostFormValue("token")
	}
	return raw, true
}

// tokenProblem answers a token that did not parse: 410 when it expired, 400
// otherwise.
func (w *Web) tokenProblem(rw http.ResponseWriter, err error) {
	if errors.Is(err, ErrTokenExpired) {
		w.render(rw, http.StatusGone, pageExpiredLink, pageData{})
		return
	}
	w.render(rw, http.StatusBadRequest, pageInvalidLink, pageData{})
}

// ---- GET/POST /unsubscribe ----

// unsubscribeForm shows the button; it changes nothing, since mail
// scanners and link previews fetch every link in a message.
func (w *Web) unsubscribeForm(rw http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("token")
	if raw == "" && r.URL.Query().Has(testLinkParam) {
		w.render(rw, http.StatusOK, pageTestLink, pageData{})
		return
	}
	s, ok := w.unsubscriber(rw, r, raw)
	if !ok {
		return
	}
	d := pageData{Email: s.Email, Action: "unsubscribe?token=" + url.QueryEscape(raw)}
	if s.ID == 0 || s.Status == store.StatusUnsubscribed {
		w.render(rw, http.StatusOK, pageUnsubscribed, pageData{Email: s.Email, Already: true})
		return
	}
	w.render(rw, http.StatusOK, pageUnsubscribe, d)
}

// unsubscribe unsubscribes at once: the button of unsubscribeForm and RFC
// 8058's one-click POST (body "List-Unsubscribe=One-Click", form-urlencoded
// or multipart), which carries no cookie and must not be redirected.
func (w *Web) unsubscribe(rw http.ResponseWriter, r *http.Request) {
	raw, ok := w.postedToken(rw, r)
	if !ok {
		return
	}
	if raw == "" && r.URL.Query().Has(testLinkParam) {
		w.render(rw, http.StatusOK, pageTestLink, pageData{}) // a test mail's one-click: nothing to do
		return
	}
	s, ok := w.unsubscriber(rw, r, raw)
	if !ok {
		return
	}
	if s.ID != 0 {
		changed, err := w.opts.Store.SetSubscriberStatus(r.Context(), w.now(), s.ID, store.StatusUnsubscribed)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			w.internal(rw, "unsubscribe", err)
			return
		}
		if changed {
			w.log.Info("web: unsubscribed", "subscriber", s.ID, "one_click", r.PostFormValue("List-Unsubscribe") == "One-Click")
		}
	}
	w.render(rw, http.StatusOK, pageUnsubscribed, pageData{Email: s.Email})
}

// unsubscriber checks an unsubscribe token and returns its subscriber; a
// subscriber that no longer exists is returned with ID 0 (there is nothing
// to unsubscribe). When ok is false the answer has been written.
func (w *Web) unsubscriber(rw http.ResponseWriter, r *http.Request, raw string) (s store.Subscriber, ok bool) {
	if raw == "" || len(raw) > maxTokenLen {
		w.render(rw, http.StatusBadRequest, pageInvalidLink, pageData{})
		return s, false
	}
	id, err := ParseToken(w.opts.Secret, PurposeUnsubscribe, raw, w.now())
	if err != nil {
		w.tokenProblem(rw, err)
		return s, false
	}
	s, err = w.opts.Store.SubscriberByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Subscriber{}, true
	}
	if err != nil {
		w.internal(rw, "unsubscribe", err)
		return s, false
	}
	return s, true
}

// ---- answers ----

func (w *Web) render(rw http.ResponseWriter, status int, page string, d pageData) {
	h := rw.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if err := w.pages.render(rw, status, page, d); err != nil {
		w.log.Error("web: rendering page", "page", page, "err", err)
	}
}

func (w *Web) writeJSON(rw http.ResponseWriter, status int, v any) {
	h := rw.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	rw.WriteHeader(status)
	if err := json.NewEncoder(rw).Encode(v); err != nil {
		w.log.Debug("web: writing answer", "err", err)
	}
}

// jsonAnswer is the JSON answer of POST /subscribe.
type jsonAnswer struct {
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

func (w *Web) subscribed(rw http.ResponseWriter, asJSON bool, email string) {
	if asJSON {
		w.writeJSON(rw, http.StatusOK, jsonAnswer{OK: true, Message: "Check your inbox: a confirmation link is on its way."})
		return
	}
	w.render(rw, http.StatusOK, pageCheckInbox, pageData{Email: email, TTL: humanDuration(w.opts.ConfirmTTL)})
}

func (w *Web) fail(rw http.ResponseWriter, asJSON bool, status int, msg, email string) {
	if asJSON {
		w.writeJSON(rw, status, jsonAnswer{Error: msg})
		return
	}
	if status == http.StatusBadRequest {
		w.render(rw, status, pageSubscribe, pageData{Error: msg, Email: email})
		return
	}
	w.render(rw, status, pageProblem, pageData{Heading: http.StatusText(status), Message: msg})
}

func (w *Web) tooMany(rw http.ResponseWriter, asJSON bool, retry time.Duration) {
	secs := int64(retry.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	rw.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	msg := "Too many requests. Please try again later."
	if asJSON {
		w.writeJSON(rw, http.StatusTooManyRequests, jsonAnswer{Error: msg})
		return
	}
	w.render(rw, http.StatusTooManyRequests, pageProblem, pageData{Heading: "Please try again later", Message: msg})
}

func (w *Web) internal(rw http.ResponseWriter, what string, err error) {
	w.log.Error("web: "+what, "err", err)
	w.render(rw, http.StatusInternalServerError, pageProblem, pageData{
		Heading: "Something went wrong",
		Message: "Please try again in a few minutes.",
	})
}

// wantsJSON reports whether the client posted JSON or asked for it.
func wantsJSON(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "application/json" || strings.Contains(r.Header.Get("Accept"), "application/json")
}

// clientIP is the rate-limit key of the client: its IP address, an IPv6
// address reduced to its /64 (one subscriber line usually owns a whole
// /64). See WebOptions.TrustProxy for X-Forwarded-For.
func (w *Web) clientIP(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	var ip netip.Addr
	if err == nil {
		ip = ap.Addr()
	} else if ip, err = netip.ParseAddr(r.RemoteAddr); err != nil {
		return r.RemoteAddr
	}
	ip = ip.Unmap()
	if w.opts.TrustProxy && ip.IsLoopback() {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			if fwd, err := netip.ParseAddr(strings.TrimSpace(parts[len(parts)-1])); err == nil {
				ip = fwd.Unmap()
			}
		}
	}
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String()
		}
	}
	return ip.String()
}

// humanDuration writes d as "48 hours" or "7 days".
func humanDuration(d time.Duration) string {
	switch h := int(d / time.Hour); {
	case h >= 72 && h%24 == 0:
		return strconv.Itoa(h/24) + " days"
	case h == 1:
		return "1 hour"
	case h > 1:
		return strconv.Itoa(h) + " hours"
	}
	return d.String()
}
