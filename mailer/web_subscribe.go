package mailer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"herald/schedule/store"
)

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
