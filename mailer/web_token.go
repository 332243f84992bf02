package mailer

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"herald/schedule/store"
)

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
