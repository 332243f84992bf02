package mailer

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

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
