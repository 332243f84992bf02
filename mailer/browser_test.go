package mailer

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"herald/schedule/server"
	"herald/schedule/store"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the browser test's screenshots to docs/")

// chromiumPath is Debian's chromium; .ci/run installs it.
const chromiumPath = "/usr/bin/chromium"

// TestBrowserSubscribeFlow drives a real headless chromium through the
// pages as a reader would: the subscribe form, the confirmation link from
// the mail, the unsubscribe link and its button. The pages are served
// under a path prefix that is stripped, as behind a reverse proxy, with the
// server's Content-Security-Policy (no script, inline style only).
func TestBrowserSubscribeFlow(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no browser: %s is missing (apt-get install -y chromium)", chromiumPath)
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	shots := t.TempDir()
	if *updateScreenshots {
		shots = filepath.Join("..", "docs")
	}

	var h http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	public := srv.URL + "/herald"
	e := newWebEnv(t, "maildir", func(o *WebOptions) { o.PublicURL = public })
	h = http.StripPrefix("/herald", server.SecurityHeaders(e.mux))

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(420, 720),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	heading := func() string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("h1")))
		must("reading h1", err)
		return strings.TrimSpace(s)
	}
	body := func() string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("main")))
		must("reading the page", err)
		return s
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		must("screenshot "+name, err)
		must("writing "+name, os.WriteFile(filepath.Join(shots, name), png, 0o644))
	}
	navigate := func(u string) int64 {
		t.Helper()
		resp, err := chromedp.Run(bctx, chromedp.NavigateResponse(u))
		must("opening "+u, err)
		return resp.Status
	}
	click := func(sel string) int64 {
		t.Helper()
		resp, err := chromedp.RunResponse(bctx, chromedp.Click(chromedp.CSS(sel)))
		must("clicking "+sel, err)
		return resp.Status
	}
	const addr = "reader@example.org"

	// 1. The subscribe page, on a phone-sized window.
	must("viewport", chromedp.Do(bctx, chromedp.EmulateViewport(420, 720)))
	if st := navigate(public + "/subscribe"); st != 200 {
		t.Fatalf("GET /subscribe: %d", st)
	}
	if got := heading(); got != "Subscribe by email" {
		t.Errorf("subscribe page h1 = %q", got)
	}
	// The inline style applies under the CSP: the button is styled.
	bg, err := chromedp.Run(bctx, chromedp.EvaluateAsDevTools[string](`getComputedStyle(document.querySelector("button")).backgroundColor`))
	must("reading the button style", err)
	if bg == "" || bg == "rgba(0, 0, 0, 0)" || bg == "rgb(239, 239, 239)" {
		t.Errorf("button background %q: the inline style did not apply", bg)
	}
	must("typing the address", chromedp.Do(bctx, chromedp.SendKeys(chromedp.ID("email"), addr)))
	shot("subscribe.png")
	if st := click(`button[type="submit"]`); st != 200 {
		t.Fatalf("POST /subscribe: %d", st)
	}
	if got := heading(); got != "Check your inbox" {
		t.Fatalf("after submitting, h1 = %q; page:\n%s", got, body())
	}
	if !strings.Contains(body(), addr) {
		t.Errorf("the page does not name %s", addr)
	}
	e.web.Wait()
	wantState(t, e, addr, store.StatusPending)

	// 2. The confirmation link from the mail.
	mails := e.mails()
	if len(mails) != 1 {
		t.Fatalf("%d mails, want 1", len(mails))
	}
	if st := navigate(mailURL(t, mails[0], public, "confirm")); st != 200 {
		t.Fatalf("GET /confirm: %d", st)
	}
	if got := heading(); got != "Confirm your subscription" {
		t.Fatalf("confirm page h1 = %q; page:\n%s", got, body())
	}
	wantState(t, e, addr, store.StatusPending)
	if st := click(`button[type="submit"]`); st != 200 {
		t.Fatalf("POST /confirm: %d", st)
	}
	if got := heading(); got != "Subscription confirmed" {
		t.Fatalf("confirm page h1 = %q; page:\n%s", got, body())
	}
	wantState(t, e, addr, store.StatusConfirmed)
	shot("confirm.png")

	// 3. A newsletter's unsubscribe link: the page changes nothing...
	s := e.subscriber(addr)
	unsub := public + "/unsubscribe?token=" + Token(webSecret, PurposeUnsubscribe, s.ID, time.Time{})
	if st := navigate(unsub); st != 200 {
		t.Fatalf("GET /unsubscribe: %d", st)
	}
	if got := heading(); got != "Unsubscribe" {
		t.Fatalf("unsubscribe page h1 = %q", got)
	}
	wantState(t, e, addr, store.StatusConfirmed)
	shot("unsubscribe.png")

	// ...its button unsubscribes.
	if st := click(`button[type="submit"]`); st != 200 {
		t.Fatalf("POST /unsubscribe: %d", st)
	}
	if got := heading(); got != "You are unsubscribed" {
		t.Fatalf("after the button, h1 = %q; page:\n%s", got, body())
	}
	loc, err := chromedp.Run(bctx, chromedp.Location())
	must("location", err)
	if !strings.HasPrefix(loc, public+"/unsubscribe?token=") {
		t.Errorf("after the button the browser is at %s", loc)
	}
	wantState(t, e, addr, store.StatusUnsubscribed)
	shot("unsubscribed.png")
}
