package mailer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"herald/feed/testkit"
	"herald/mailer/smtptest"

	"herald/feed"
	"herald/schedule/store"
	"herald/schedule/store/sqlite"
)

// webPublic is the public URL of the tests: a path prefix that a reverse
// proxy would strip.
const webPublic = "https://blog.example.com/herald"

var webSecret = []byte("0123456789abcdef0123456789abcdef")

// webEnv is a Web over a real SQLite database and a real transport.
type webEnv struct {
	t     testing.TB
	db    *sqlite.DB
	web   *Web
	mux   *http.ServeMux
	clock *testkit.Clock
	// mails returns the raw messages sent so far.
	mails func() [][]byte
}

// webSite is the site of the tests.
func webSite() *feed.Site {
	return &feed.Site{Title: "Field Notes", URL: "https://blog.example.com", Email: "news@example.com", Language: "en", Timezone: "UTC"}
}

// newWebEnv builds a Web sending through the in-process SMTP server
// (smtp) or into a Maildir in t.TempDir(); mod may change the options.
func newWebEnv(t testing.TB, transport string, mod func(*WebOptions)) *webEnv {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	env := &webEnv{t: t, db: db, clock: testkit.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))}

	var (
		cfg Config
		tr  Transport
	)
	switch transport {
	case "smtp":
		srv := smtptest.New(t, smtptest.Options{})
		cfg = smtpConfig(t, srv)
		tr = smtpTransport(t, srv, cfg)
		env.mails = func() [][]byte {
			var out [][]byte
			for _, m := range srv.Messages() {
				out = append(out, m.Data)
			}
			return out
		}
	default:
		dir := filepath.Join(t.TempDir(), "mail")
		cfg = Default()
		cfg.Maildir = dir
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		tr = NewMaildirTransport(dir)
		env.mails = func() [][]byte { return readMaildir(t, dir) }
	}
	comp, err := NewComposer(&cfg, webSite(), nil)
	if err != nil {
		t.Fatalf("NewComposer: %v", err)
	}
	opts := WebOptions{
		WebConfig: WebConfig{
			PublicURL: webPublic,
			RateLimit: RateLimit{PerIP: 100, PerAddress: 100, PendingPerHour: 1000},
		},
		SiteTitle: "Field Notes",
		SiteURL:   "https://blog.example.com",
		Secret:    webSecret,
		Store:     db,
		Composer:  comp,
		Transport: tr,
		Clock:     fakeClock{env.clock},
	}
	if mod != nil {
		mod(&opts)
	}
	env.web, err = NewWeb(opts)
	if err != nil {
		t.Fatalf("NewWeb: %v", err)
	}
	t.Cleanup(env.web.Wait) // before the database closes
	env.mux = http.NewServeMux()
	env.web.Register(env.mux)
	return env
}

// readMaildir returns the messages in dir/new, oldest first (names start
// with the Unix time and sort by sequence within a process).
func readMaildir(t testing.TB, dir string) [][]byte {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "new"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	type file struct {
		mod  time.Time
		data []byte
	}
	var files []file
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, "new", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := e.Info()
		files = append(files, file{fi.ModTime(), b})
	}
	// Sort by modification time (stable enough: tests wait for each send).
	for i := 1; i < len(files); i++ {
		for j := i; j > 0 && files[j].mod.Before(files[j-1].mod); j-- {
			files[j], files[j-1] = files[j-1], files[j]
		}
	}
	out := make([][]byte, len(files))
	for i, f := range files {
		out[i] = f.data
	}
	return out
}

// do serves one request from remote (an "ip:port") and returns the answer.
func (e *webEnv) do(method, target, ctype, body, remote string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	if remote != "" {
		r.RemoteAddr = remote
	}
	rec := httptest.NewRecorder()
	e.mux.ServeHTTP(rec, r)
	return rec
}

// subscribeForm posts the subscribe form and waits for the background work.
func (e *webEnv) subscribeForm(email, remote string) *httptest.ResponseRecorder {
	e.t.Helper()
	rec := e.do("POST", "/subscribe", "application/x-www-form-urlencoded", url.Values{"email": {email}}.Encode(), remote)
	e.web.Wait()
	return rec
}

// subscriber reads the row of email.
func (e *webEnv) subscriber(email string) store.Subscriber {
	e.t.Helper()
	s, err := e.db.Subscriber(context.Background(), email)
	if err != nil {
		e.t.Fatalf("subscriber %s: %v", email, err)
	}
	return s
}

// mailLink returns the path and query (relative to the public URL webPublic)
// of the last link to page ("confirm", "unsubscribe") in the text part of raw.
func mailLink(t testing.TB, raw []byte, page string) string {
	t.Helper()
	return strings.TrimPrefix(mailURL(t, raw, webPublic, page), webPublic)
}

// mailURL returns the last absolute link to base/page in the text part of raw.
func mailURL(t testing.TB, raw []byte, base, page string) string {
	t.Helper()
	text := mailText(t, raw)
	re := regexp.MustCompile(regexp.QuoteMeta(base+"/"+page+"?token=") + `[A-Za-z0-9_~%.-]+`)
	m := re.FindAllString(text, -1)
	if len(m) == 0 {
		t.Fatalf("no %s link in the mail:\n%s", page, text)
	}
	return m[len(m)-1]
}

// mailText returns the decoded text/plain part of a message.
func mailText(t testing.TB, raw []byte) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("reading mail: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("mail content type: %v", err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		b, _ := io.ReadAll(msg.Body)
		return string(b)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no text/plain part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, err := io.ReadAll(p) // quoted-printable is decoded by the reader
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}

func mailTo(t testing.TB, raw []byte) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("reading mail: %v", err)
	}
	a, err := mail.ParseAddress(msg.Header.Get("To"))
	if err != nil {
		t.Fatalf("To: %v", err)
	}
	return a.Address
}

func wantStatus(t testing.TB, rec *httptest.ResponseRecorder, want int, contains ...string) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("status = %d, want %d; body:\n%s", rec.Code, want, rec.Body.String())
	}
	for _, s := range contains {
		if !strings.Contains(rec.Body.String(), s) {
			t.Errorf("body lacks %q:\n%s", s, rec.Body.String())
		}
	}
}

func wantState(t testing.TB, e *webEnv, email string, want store.SubscriberStatus) {
	t.Helper()
	if got := e.subscriber(email).Status; got != want {
		t.Fatalf("%s status = %s, want %s", email, got, want)
	}
}

// TestWebFlow is the whole flow through the real SMTP transport: subscribe,
// confirmation mail, confirm, a newsletter's unsubscribe link (GET changes
// nothing, the one-click POST unsubscribes), then subscribing again.
func TestWebFlow(t *testing.T) {
	e := newWebEnv(t, "smtp", nil)
	const addr = "reader@example.org"

	rec := e.do("GET", "/subscribe", "", "", "")
	wantStatus(t, rec, 200, `<form method="post" action="subscribe">`, `<label for="email">`, `name="email"`)

	rec = e.subscribeForm(addr, "192.0.2.1:1234")
	wantStatus(t, rec, 200, "Check your inbox", addr)
	s := e.subscriber(addr)
	if s.Status != store.StatusPending || s.Source != store.SourceWeb {
		t.Fatalf("after subscribing: status %s source %s, want pending web", s.Status, s.Source)
	}
	mails := e.mails()
	if len(mails) != 1 || mailTo(t, mails[0]) != addr {
		t.Fatalf("got %d mails, want one confirmation to %s", len(mails), addr)
	}
	confirm := mailLink(t, mails[0], "confirm")

	// Link scanners fetch the confirmation link: GET and HEAD show the
	// button and change nothing (no double opt-in without the person).
	for range 3 {
		rec = e.do("GET", confirm, "", "", "")
		wantStatus(t, rec, 200, "Confirm your subscription", addr, `<button type="submit">Confirm subscription</button>`)
		if !strings.Contains(rec.Body.String(), `<form method="post" action="confirm?token=`) {
			t.Errorf("the button does not post to the same link:\n%s", rec.Body.String())
		}
		e.do("HEAD", confirm, "", "", "")
	}
	wantState(t, e, addr, store.StatusPending)
	// The button posts.
	rec = e.do("POST", confirm, "application/x-www-form-urlencoded", "", "")
	wantStatus(t, rec, 200, "Subscription confirmed", addr)
	wantState(t, e, addr, store.StatusConfirmed)
	rec = e.do("POST", confirm, "application/x-www-form-urlencoded", "", "")
	wantStatus(t, rec, 200, "already subscribed")
	rec = e.do("GET", confirm, "", "", "")
	wantStatus(t, rec, 200, "already subscribed")
	wantState(t, e, addr, store.StatusConfirmed)

	// A newsletter as the composer writes it, with the unsubscribe URL the
	// delivery worker signs; its List-Unsubscribe header must work here.
	unsubURL := webPublic + "/unsubscribe?token=" + Token(webSecret, PurposeUnsubscribe, s.ID, time.Time{})
	cfg := Default()
	comp, err := NewComposer(&cfg, webSite(), nil)
	if err != nil {
		t.Fatal(err)
	}
	prep, err := comp.Prepare([]PostMail{{Title: "Hello", URL: "https://blog.example.com/hello/", Date: e.clock.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	nl, err := prep.Message(Recipient{Email: addr, UnsubscribeURL: unsubURL}, "n1@example.com")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(nl.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	lu := regexp.MustCompile(`<(https://[^>]+)>`).FindStringSubmatch(parsed.Header.Get("List-Unsubscribe"))
	if lu == nil {
		t.Fatalf("List-Unsubscribe = %q", parsed.Header.Get("List-Unsubscribe"))
	}
	unsub := strings.TrimPrefix(lu[1], webPublic)

	// Mail scanners fetch links: GET (and HEAD) change nothing.
	for range 3 {
		rec = e.do("GET", unsub, "", "", "")
		wantStatus(t, rec, 200, "Unsubscribe", addr, `<button type="submit">Unsubscribe</button>`)
		e.do("HEAD", unsub, "", "", "")
	}
	wantState(t, e, addr, store.StatusConfirmed)
	if !strings.Contains(rec.Body.String(), `action="unsubscribe?token=`) {
		t.Errorf("the button does not post to the same link:\n%s", rec.Body.String())
	}

	// RFC 8058 one-click: no cookie, 200, no redirect.
	rec = e.do("POST", unsub, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click", "198.51.100.7:999")
	wantStatus(t, rec, 200, "You are unsubscribed")
	if loc := rec.Header().Get("Location"); loc != "" {
		t.Errorf("Location = %q, want none", loc)
	}
	wantState(t, e, addr, store.StatusUnsubscribed)
	var confirmed int
	e.db.EachSubscriber(context.Background(), store.StatusConfirmed, func(store.Subscriber) error { confirmed++; return nil })
	if confirmed != 0 {
		t.Errorf("%d confirmed subscribers after unsubscribing, want 0 (no further mail)", confirmed)
	}

	// The old confirmation link does not bring the subscriber back.
	rec = e.do("GET", confirm, "", "", "")
	wantStatus(t, rec, 410, "expired")
	wantState(t, e, addr, store.StatusUnsubscribed)

	// Subscribing again needs a new confirmation.
	rec = e.subscribeForm(addr, "192.0.2.1:1234")
	wantStatus(t, rec, 200, "Check your inbox")
	wantState(t, e, addr, store.StatusUnsubscribed)
	mails = e.mails()
	if len(mails) != 2 {
		t.Fatalf("got %d mails, want 2", len(mails))
	}
	rec = e.do("POST", mailLink(t, mails[1], "confirm"), "", "", "")
	wantStatus(t, rec, 200, "Subscription confirmed")
	wantState(t, e, addr, store.StatusConfirmed)
}

// TestWebOneClickMultipart sends RFC 8058's body as multipart/form-data, as
// some mail providers do.
func TestWebOneClickMultipart(t *testing.T) {
	e := newWebEnv(t, "maildir", nil)
	s, _, err := e.db.AddSubscriber(context.Background(), e.clock.Now(), "m@example.org", "", store.StatusConfirmed, store.SourceCLI)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("List-Unsubscribe", "One-Click")
	mw.Close()
	target := "/unsubscribe?token=" + Token(webSecret, PurposeUnsubscribe, s.ID, time.Time{})
	rec := e.do("POST", target, mw.FormDataContentType(), body.String(), "")
	wantStatus(t, rec, 200, "You are unsubscribed")
	wantState(t, e, "m@example.org", store.StatusUnsubscribed)
	// Again: still 200, nothing to do.
	rec = e.do("POST", target, mw.FormDataContentType(), body.String(), "")
	wantStatus(t, rec, 200)
}

// TestWebTokens checks that tampered, expired, foreign and misused tokens
// get a friendly 4xx page and change nothing.
func TestWebTokens(t *testing.T) {
	e := newWebEnv(t, "maildir", nil)
	ctx := context.Background()
	e.subscribeForm("alice@example.org", "")
	e.subscribeForm("bob@example.org", "")
	alice, bob := e.subscriber("alice@example.org"), e.subscriber("bob@example.org")
	confirm := mailLink(t, e.mails()[0], "confirm")
	if mailTo(t, e.mails()[0]) != alice.Email {
		t.Fatal("first mail is not alice's")
	}
	tok := strings.TrimPrefix(confirm, "/confirm?token=")
	gen, sig, _ := strings.Cut(tok, "~")

	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	other := Token([]byte("another secret of enough bytes!!"), PurposeConfirm+":"+gen, alice.ID, e.clock.Now().Add(time.Hour))
	aliceUnsub := Token(webSecret, PurposeUnsubscribe, alice.ID, time.Time{})
	for _, tc := range []struct {
		name, target string
		want         int
	}{
		{"no token", "/confirm", 400},
		{"empty token", "/confirm?token=", 400},
		{"garbage", "/confirm?token=hello", 400},
		{"tampered signature", "/confirm?token=" + gen + "~" + flip(sig, len(sig)-2), 400},
		{"tampered id", "/confirm?token=" + gen + "~" + flip(sig, 3), 400},
		{"tampered id, POST", "/confirm?token=" + gen + "~" + flip(sig, 3), 400},
		{"other secret, POST", "/confirm?token=" + gen + "~" + other, 400},
		{"tampered generation", "/confirm?token=1.0~" + sig, 400},
		{"other secret", "/confirm?token=" + gen + "~" + other, 400},
		{"unsubscribe token to confirm", "/confirm?token=" + gen + "~" + aliceUnsub, 400},
		{"unsubscribe token to confirm, no generation", "/confirm?token=" + aliceUnsub, 400},
		{"confirm token to unsubscribe", "/unsubscribe?token=" + sig, 400},
		{"confirm token to unsubscribe, POST", "/unsubscribe?token=" + sig, 400},
		{"too long", "/confirm?token=0~" + strings.Repeat("A", 600), 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := "GET"
			if strings.HasSuffix(tc.name, "POST") {
				method = "POST"
			}
			rec := e.do(method, tc.target, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click", "")
			wantStatus(t, rec, tc.want, "not valid", `lang="en"`)
			wantState(t, e, alice.Email, store.StatusPending)
			wantState(t, e, bob.Email, store.StatusPending)
		})
	}

	t.Run("expired", func(t *testing.T) {
		e.clock.Advance(48*time.Hour + time.Second)
		defer e.clock.Advance(-48*time.Hour - time.Second)
		rec := e.do("GET", confirm, "", "", "")
		wantStatus(t, rec, 410, "expired", `href="subscribe"`)
		wantStatus(t, e.do("POST", confirm, "", "", ""), 410, "expired")
		wantState(t, e, alice.Email, store.StatusPending)
	})
	t.Run("unknown subscriber", func(t *testing.T) {
		ghost := "/confirm?token=1.0~" + Token(webSecret, PurposeConfirm+":1.0", 9999, e.clock.Now().Add(time.Hour))
		wantStatus(t, e.do("GET", ghost, "", "", ""), 410, "expired")
		// A link made for an earlier row with the same id (ids can be
		// reused after a delete) does not confirm the current row.
		reused := "/confirm?token=1.0~" + Token(webSecret, PurposeConfirm+":1.0", alice.ID, e.clock.Now().Add(time.Hour))
		wantStatus(t, e.do("GET", reused, "", "", ""), 410, "expired")
		wantState(t, e, alice.Email, store.StatusPending)
		gone := "/unsubscribe?token=" + Token(webSecret, PurposeUnsubscribe, 9999, time.Time{})
		wantStatus(t, e.do("GET", gone, "", "", ""), 200, "not subscribed")
		wantStatus(t, e.do("POST", gone, "", "", ""), 200, "unsubscribed")
	})
	t.Run("valid link confirms only its subscriber", func(t *testing.T) {
		wantStatus(t, e.do("GET", confirm, "", "", ""), 200, "Confirm your subscription")
		wantState(t, e, alice.Email, store.StatusPending)
		wantStatus(t, e.do("POST", confirm, "", "", ""), 200, "Subscription confirmed")
		wantState(t, e, alice.Email, store.StatusConfirmed)
		wantState(t, e, bob.Email, store.StatusPending)
	})
	t.Run("unsubscribe token of one subscriber leaves the other", func(t *testing.T) {
		if _, err := e.db.SetSubscriberStatus(ctx, e.clock.Now(), bob.ID, store.StatusConfirmed); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, e.do("POST", "/unsubscribe?token="+aliceUnsub, "", "", ""), 200)
		wantState(t, e, alice.Email, store.StatusUnsubscribed)
		wantState(t, e, bob.Email, store.StatusConfirmed)
	})
}

// TestWebNoEnumeration checks that POST /subscribe answers alike for new,
// pending, confirmed and unsubscribed addresses, and changes no status.
func TestWebNoEnumeration(t *testing.T) {
	e := newWebEnv(t, "maildir", nil)
	ctx := context.Background()
	for addr, st := range map[string]store.SubscriberStatus{
		"pending@example.org":      store.StatusPending,
		"confirmed@example.org":    store.StatusConfirmed,
		"unsubscribed@example.org": store.StatusUnsubscribed,
	} {
		if _, _, err := e.db.AddSubscriber(ctx, e.clock.Now(), addr, "", st, store.SourceCLI); err != nil {
			t.Fatal(err)
		}
	}
	type answer struct {
		code int
		body string
		hdr  string
	}
	var first *answer
	for i, addr := range []string{"new@example.org", "pending@example.org", "confirmed@example.org", "unsubscribed@example.org"} {
		for _, ctype := range []string{"application/x-www-form-urlencoded", "application/json"} {
			body := url.Values{"email": {addr}}.Encode()
			if ctype == "application/json" {
				b, _ := json.Marshal(map[string]string{"email": addr})
				body = string(b)
			}
			rec := e.do("POST", "/subscribe", ctype, body, "")
			got := answer{rec.Code, strings.ReplaceAll(rec.Body.String(), addr, "ADDR"), rec.Header().Get("Content-Type")}
			t.Logf("%s %s: %d", addr, ctype, rec.Code)
			if ctype != "application/json" {
				if first == nil {
					first = &got
				} else if got != *first {
					t.Errorf("answer for %s differs:\n%+v\nwant\n%+v", addr, got, *first)
				}
			} else if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ok":true`) {
				t.Errorf("JSON answer for %s: %d %s", addr, rec.Code, rec.Body.String())
			}
		}
		_ = i
	}
	e.web.Wait()
	wantState(t, e, "new@example.org", store.StatusPending)
	wantState(t, e, "pending@example.org", store.StatusPending)
	wantState(t, e, "confirmed@example.org", store.StatusConfirmed)
	wantState(t, e, "unsubscribed@example.org", store.StatusUnsubscribed)
	if n := len(e.mails()); n != 8 {
		t.Errorf("%d confirmation mails, want 8 (every address asked twice)", n)
	}
	if got := e.subscriber("new@example.org").Source; got != store.SourceWeb {
		t.Errorf("source = %s, want web", got)
	}
	if got := e.subscriber("confirmed@example.org").Source; got != store.SourceCLI {
		t.Errorf("source of a known address changed to %s", got)
	}
}

// TestWebRateLimits checks the per-IP, per-address and global limits.
func TestWebRateLimits(t *testing.T) {
	t.Run("per IP", func(t *testing.T) {
		e := newWebEnv(t, "maildir", func(o *WebOptions) { o.PerIP = 3 })
		for i := range 3 {
			wantStatus(t, e.subscribeForm("a"+string(rune('a'+i))+"@example.org", "192.0.2.1:1000"), 200)
		}
		rec := e.subscribeForm("z@example.org", "192.0.2.1:2000")
		wantStatus(t, rec, 429, "try again later")
		if rec.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		// Invalid requests count too.
		wantStatus(t, e.subscribeForm("not an address", "192.0.2.1:1000"), 429)
		// Another client is not affected; one IPv6 /64 is one client.
		wantStatus(t, e.subscribeForm("z@example.org", "192.0.2.2:1000"), 200)
		for i := range 3 {
			wantStatus(t, e.subscribeForm("v6"+string(rune('a'+i))+"@example.org", "[2001:db8:1:2::"+string(rune('1'+i))+"]:1000"), 200)
		}
		wantStatus(t, e.subscribeForm("v6z@example.org", "[2001:db8:1:2:ffff::9]:1000"), 429)
		// X-Forwarded-For is not trusted by default.
		r := httptest.NewRequest("POST", "/subscribe", strings.NewReader("email=x%40example.org"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("X-Forwarded-For", "203.0.113.50")
		r.RemoteAddr = "192.0.2.1:1000"
		rec = httptest.NewRecorder()
		e.mux.ServeHTTP(rec, r)
		wantStatus(t, rec, 429)
		// The bucket refills with time.
		e.clock.Advance(time.Hour)
		wantStatus(t, e.subscribeForm("y@example.org", "192.0.2.1:1000"), 200)
		if n := len(e.mails()); n != 8 {
			t.Errorf("%d mails, want 8", n)
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		e := newWebEnv(t, "maildir", func(o *WebOptions) { o.PerIP = 1; o.TrustProxy = true })
		post := func(remote, xff string) int {
			r := httptest.NewRequest("POST", "/subscribe", strings.NewReader("email=x%40example.org"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if xff != "" {
				r.Header.Set("X-Forwarded-For", xff)
			}
			r.RemoteAddr = remote
			rec := httptest.NewRecorder()
			e.mux.ServeHTTP(rec, r)
			return rec.Code
		}
		for _, tc := range []struct {
			remote, xff string
			want        int
		}{
			{"127.0.0.1:5000", "203.0.113.1", 200},
			{"127.0.0.1:5000", "203.0.113.2", 200},
			{"127.0.0.1:5000", "203.0.113.1", 429},
			{"127.0.0.1:5000", "198.51.100.9, 203.0.113.1", 429}, // the client's own entry is ignored
			{"192.0.2.9:5000", "203.0.113.3", 200},               // not from the proxy: header ignored
			{"192.0.2.9:5000", "203.0.113.4", 429},
		} {
			if got := post(tc.remote, tc.xff); got != tc.want {
				t.Errorf("%s XFF %q: %d, want %d", tc.remote, tc.xff, got, tc.want)
			}
		}
		e.web.Wait()
	})
	t.Run("per address", func(t *testing.T) {
		e := newWebEnv(t, "maildir", func(o *WebOptions) { o.PerAddress = 2 })
		wantStatus(t, e.subscribeForm("same@example.org", "192.0.2.1:1"), 200)
		wantStatus(t, e.subscribeForm("same@EXAMPLE.org", "192.0.2.2:1"), 200)
		wantStatus(t, e.subscribeForm("SAME@example.org", "192.0.2.3:1"), 429, "try again later")
		wantStatus(t, e.subscribeForm("other@example.org", "192.0.2.3:1"), 200)
		if n := len(e.mails()); n != 3 {
			t.Errorf("%d mails, want 3", n)
		}
	})
	t.Run("pending per hour", func(t *testing.T) {
		e := newWebEnv(t, "maildir", func(o *WebOptions) { o.PendingPerHour = 2 })
		wantStatus(t, e.subscribeForm("p1@example.org", "192.0.2.1:1"), 200)
		wantStatus(t, e.subscribeForm("p2@example.org", "192.0.2.2:1"), 200)
		wantStatus(t, e.subscribeForm("p3@example.org", "192.0.2.3:1"), 429)
		if _, err := e.db.Subscriber(context.Background(), "p3@example.org"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("p3 stored despite the cap: %v", err)
		}
		e.clock.Advance(31 * time.Minute)
		wantStatus(t, e.subscribeForm("p3@example.org", "192.0.2.3:1"), 200)
		wantStatus(t, e.subscribeForm("p4@example.org", "192.0.2.4:1"), 429)
	})
}

// TestWebBadRequests checks size limits, content types and header-injection
// attempts: nothing is stored, nothing is mailed.
func TestWebBadRequests(t *testing.T) {
	e := newWebEnv(t, "maildir", func(o *WebOptions) { o.MaxBodyBytes = 1024 })
	form := "application/x-www-form-urlencoded"
	big := url.Values{"email": {"a@example.org"}, "pad": {strings.Repeat("x", 2000)}}.Encode()
	for _, tc := range []struct {
		name, ctype, body string
		want              int
		chunked           bool
	}{
		{"oversize form", form, big, 413, false},
		{"oversize form, chunked", form, big, 413, true},
		{"oversize JSON, chunked", "application/json", `{"email":"` + strings.Repeat("a", 2000) + `@example.org"}`, 413, true},
		{"oversize multipart", "multipart/form-data; boundary=xx", "--xx\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n" + strings.Repeat("a", 2000) + "\r\n--xx--\r\n", 413, false},
		{"long address", form, "email=" + strings.Repeat("a", 250) + "%40example.org", 400, false},
		{"long name", form, "email=a%40example.org&name=" + strings.Repeat("n", 101), 400, false},
		{"CRLF Bcc", form, url.Values{"email": {"victim@example.org\r\nBcc: many@example.net"}}.Encode(), 400, false},
		{"LF", form, url.Values{"email": {"victim@example.org\nX: y"}}.Encode(), 400, false},
		{"CR", form, url.Values{"email": {"victim@example.org\rX: y"}}.Encode(), 400, false},
		{"encoded CRLF JSON", "application/json", `{"email":"victim@example.org\r\nBcc: many@example.net"}`, 400, false},
		{"CRLF in name", form, url.Values{"email": {"victim@example.org"}, "name": {"Eve\r\nBcc: many@example.net"}}.Encode(), 400, false},
		{"CRLF in display name", form, url.Values{"email": {"\"Eve\r\nBcc: x@example.net\" <victim@example.org>"}}.Encode(), 400, false},
		{"NUL", form, url.Values{"email": {"victim@example.org\x00"}}.Encode(), 400, false},
		{"two addresses", form, url.Values{"email": {"victim@example.org, other@example.org"}}.Encode(), 400, false},
		{"no at", form, "email=victim", 400, false},
		{"no domain dot", form, "email=victim%40localhost", 400, false},
		{"empty", form, "email=", 400, false},
		{"bad JSON", "application/json", `{"email":`, 400, false},
		{"text/plain", "text/plain", "victim@example.org", 415, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/subscribe", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.ctype)
			if tc.chunked {
				r.ContentLength = -1
			}
			rec := httptest.NewRecorder()
			e.mux.ServeHTTP(rec, r)
			if rec.Code != tc.want {
				t.Errorf("status = %d, want %d: %s", rec.Code, tc.want, rec.Body.String())
			}
			if tc.want == 400 && tc.ctype == form && !strings.Contains(rec.Body.String(), `role="alert"`) {
				t.Errorf("the form is not shown again with the error:\n%s", rec.Body.String())
			}
		})
	}
	e.web.Wait()
	if n, err := e.db.CountSubscribers(context.Background()); err != nil || n.Total() != 0 {
		t.Errorf("subscribers stored: %+v %v", n, err)
	}
	if n := len(e.mails()); n != 0 {
		t.Errorf("%d mails sent, want 0", n)
	}
	// Oversize one-click bodies are refused too.
	s, _, _ := e.db.AddSubscriber(context.Background(), e.clock.Now(), "u@example.org", "", store.StatusConfirmed, store.SourceCLI)
	rec := e.do("POST", "/unsubscribe?token="+Token(webSecret, PurposeUnsubscribe, s.ID, time.Time{}), form, big, "")
	wantStatus(t, rec, 413)
	wantState(t, e, "u@example.org", store.StatusConfirmed)
}

// TestWebHoneypot checks that a filled hidden field gets the success page
// and nothing else.
func TestWebHoneypot(t *testing.T) {
	e := newWebEnv(t, "maildir", nil)
	bot := e.do("POST", "/subscribe", "application/x-www-form-urlencoded",
		url.Values{"email": {"bot@example.org"}, "website": {"http://spam.example"}}.Encode(), "")
	e.web.Wait()
	human := e.subscribeForm("human@example.org", "")
	wantStatus(t, bot, 200, "Check your inbox")
	if got, want := strings.ReplaceAll(bot.Body.String(), "bot@", "X@"), strings.ReplaceAll(human.Body.String(), "human@", "X@"); got != want {
		t.Errorf("honeypot answer differs:\n%s\nwant\n%s", got, want)
	}
	if _, err := e.db.Subscriber(context.Background(), "bot@example.org"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bot stored: %v", err)
	}
	if n := len(e.mails()); n != 1 {
		t.Errorf("%d mails, want 1 (the human's)", n)
	}
}

// TestWebPages checks the pages' accessibility basics and that they load
// nothing from elsewhere.
func TestWebPages(t *testing.T) {
	e := newWebEnv(t, "maildir", nil)
	s, _, _ := e.db.AddSubscriber(context.Background(), e.clock.Now(), "p@example.org", "", store.StatusConfirmed, store.SourceCLI)
	unsub := "/unsubscribe?token=" + Token(webSecret, PurposeUnsubscribe, s.ID, time.Time{})
	for _, tc := range []struct {
		name string
		rec  *httptest.ResponseRecorder
	}{
		{"subscribe", e.do("GET", "/subscribe", "", "", "")},
		{"check inbox", e.do("POST", "/subscribe", "application/x-www-form-urlencoded", "email=q%40example.org", "")},
		{"invalid", e.do("GET", "/confirm?token=x", "", "", "")},
		{"unsubscribe", e.do("GET", unsub, "", "", "")},
		{"unsubscribed", e.do("POST", unsub, "", "", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.rec.Body.String()
			for _, want := range []string{`<html lang="en">`, `name="viewport"`, "<title>", "Field Notes", "<h1"} {
				if !strings.Contains(body, want) {
					t.Errorf("lacks %q", want)
				}
			}
			for _, bad := range []string{"<script", "<link", "@import", "src=\"http", "url("} {
				if strings.Contains(body, bad) {
					t.Errorf("contains %q", bad)
				}
			}
			if got := tc.rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q", got)
			}
			if got := tc.rec.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
		})
	}
	if rec := e.do("PUT", "/subscribe", "", "", ""); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("PUT /subscribe: %d", rec.Code)
	}
	e.web.Wait()
}

// TestWebSweep checks that the janitor deletes stale pending subscriptions
// and nothing else.
func TestWebSweep(t *testing.T) {
	e := newWebEnv(t, "maildir", func(o *WebOptions) { o.PendingTTL.Duration = 7 * 24 * time.Hour })
	if _, ok := any(e.db).(PendingDeleter); !ok {
		t.Skip("sqlite.DB has no DeletePending(ctx, olderThan) (int64, error) yet")
	}
	ctx := context.Background()
	e.subscribeForm("old@example.org", "")
	e.db.AddSubscriber(ctx, e.clock.Now(), "cli@example.org", "", store.StatusConfirmed, store.SourceCLI)
	e.clock.Advance(6 * 24 * time.Hour)
	e.subscribeForm("young@example.org", "")
	if err := e.web.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	e.subscriber("old@example.org")
	e.clock.Advance(24*time.Hour + time.Minute)
	if err := e.web.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Subscriber(ctx, "old@example.org"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old pending subscription not deleted: %v", err)
	}
	wantState(t, e, "young@example.org", store.StatusPending)
	wantState(t, e, "cli@example.org", store.StatusConfirmed)
}

// TestWebRunSweepsHourly: Run's janitor sweeps at once and then every hour
// of the Web's clock: a pending subscription that went stale in between is
// deleted at the next hour, not before.
func TestWebRunSweepsHourly(t *testing.T) {
	e := newWebEnv(t, "maildir", func(o *WebOptions) { o.PendingTTL.Duration = 30 * time.Minute })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.web.Run(ctx) }()
	defer func() { cancel(); <-done }()
	e.subscribeForm("old@example.org", "")
	e.web.Wait() // its confirmation mail sent
	if !waitFor(t, "the first sweep", func() bool { return e.clock.Timers() == 1 }, 10*time.Second) {
		t.Fatal("Run does not wait on its clock")
	}
	e.clock.Advance(31 * time.Minute) // stale now, but the hour has not come
	time.Sleep(50 * time.Millisecond)
	wantState(t, e, "old@example.org", store.StatusPending)
	e.clock.Advance(29 * time.Minute)
	if !waitFor(t, "the hourly sweep", func() bool {
		_, err := e.db.Subscriber(ctx, "old@example.org")
		return errors.Is(err, store.ErrNotFound)
	}, 10*time.Second) {
		t.Error("the stale pending subscription was not deleted at the hour")
	}
}

// TestWebRun checks that Run stops with its context and waits for sends.
func TestWebRun(t *testing.T) {
	e := newWebEnv(t, "maildir", nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.web.Run(ctx) }()
	e.do("POST", "/subscribe", "application/x-www-form-urlencoded", "email=r%40example.org", "")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(e.mails()); n != 1 {
		t.Errorf("%d mails after Run returned, want 1", n)
	}
}

func TestNewWebErrors(t *testing.T) {
	e := newWebEnv(t, "maildir", nil)
	good := e.web.opts
	for _, tc := range []struct {
		name string
		mod  func(*WebOptions)
	}{
		{"relative public URL", func(o *WebOptions) { o.PublicURL = "/herald" }},
		{"ftp public URL", func(o *WebOptions) { o.PublicURL = "ftp://example.com" }},
		{"short secret", func(o *WebOptions) { o.Secret = []byte("short") }},
		{"no store", func(o *WebOptions) { o.Store = nil }},
		{"no transport", func(o *WebOptions) { o.Transport = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.mod(&o)
			if _, err := NewWeb(o); err == nil || !strings.HasPrefix(err.Error(), "mailer: web:") {
				t.Errorf("err = %v, want a mailer: web: error", err)
			}
		})
	}
}

func TestRateLimiter(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newRateLimiter(2, time.Hour, 3)
	for _, tc := range []struct {
		key  string
		at   time.Duration
		want bool
	}{
		{"a", 0, true},
		{"a", 0, true},
		{"a", time.Minute, false},
		{"a", 30 * time.Minute, true}, // one token back after half the period
		{"a", 31 * time.Minute, false},
		{"b", 31 * time.Minute, true},
		{"c", 31 * time.Minute, true},
		{"d", 31 * time.Minute, false}, // map full, nothing idle
		{"d", 3 * time.Hour, true},     // idle buckets pruned
	} {
		if got, _ := l.Allow(tc.key, t0.Add(tc.at)); got != tc.want {
			t.Errorf("Allow(%s, +%s) = %v, want %v", tc.key, tc.at, got, tc.want)
		}
	}
	// A refused request learns when the next token comes (plus a second
	// for the rounding of Retry-After).
	r := newRateLimiter(2, time.Hour, 0)
	r.Allow("a", t0)
	r.Allow("a", t0)
	if ok, retry := r.Allow("a", t0.Add(time.Minute)); ok || retry != 29*time.Minute+time.Second {
		t.Errorf("third request: ok %v, retry %v, want refused with 29m1s", ok, retry)
	}
	if ok, _ := r.Allow("a", t0.Add(30*time.Minute)); !ok {
		t.Error("a refused request used up a token")
	}
	l.Prune(t0.Add(10 * time.Hour))
	if n := l.Len(); n != 0 {
		t.Errorf("%d keys after pruning, want 0", n)
	}
	if ok, _ := newRateLimiter(0, time.Hour, 0).Allow("x", t0); !ok {
		t.Error("a zero limit refuses")
	}
}
