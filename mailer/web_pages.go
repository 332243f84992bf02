package mailer

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
)

// Page names of the subscription pages.
const (
	pageSubscribe    = "subscribe"
	pageCheckInbox   = "check-inbox"
	pageConfirm      = "confirm"
	pageConfirmed    = "confirmed"
	pageInvalidLink  = "invalid-link"
	pageExpiredLink  = "expired-link"
	pageUnsubscribe  = "unsubscribe"
	pageUnsubscribed = "unsubscribed"
	pageProblem      = "problem"
	pageTestLink     = "test-link"
)

// pageData is what a page shows besides the site.
type pageData struct {
	Email   string // the address concerned (as the visitor typed it, or as stored)
	Error   string // a problem with the form
	Action  string // the form's relative action URL
	Already bool   // nothing changed: already confirmed / already unsubscribed
	TTL     string // validity of a confirmation link, "48 hours"
	Heading string // pageProblem's heading
	Message string // pageProblem's text
}

// pages renders the subscription pages: plain HTML with an inline style
// sheet, no script, no external resource (the server's
// Content-Security-Policy allows nothing else), readable on a phone.
type pages struct {
	t       *template.Template
	site    string
	siteURL string
	lang    string
}

// layoutData is the data of the layout template.
type layoutData struct {
	pageData
	Page    string
	Title   string
	Site    string
	SiteURL string
	Lang    string
}

func newPages(site, siteURL, lang string) (*pages, error) {
	t, err := template.New("layout").Parse(webLayout)
	if err != nil {
		return nil, fmt.Errorf("mailer: web pages: %w", err)
	}
	if _, err := t.Parse(webPages); err != nil {
		return nil, fmt.Errorf("mailer: web pages: %w", err)
	}
	return &pages{t: t, site: site, siteURL: siteURL, lang: lang}, nil
}

// pageTitles are the <title>s (after the site title).
var pageTitles = map[string]string{
	pageSubscribe:    "Subscribe",
	pageCheckInbox:   "Check your inbox",
	pageConfirm:      "Confirm your subscription",
	pageConfirmed:    "Subscription confirmed",
	pageInvalidLink:  "Link not valid",
	pageExpiredLink:  "Link expired",
	pageUnsubscribe:  "Unsubscribe",
	pageUnsubscribed: "Unsubscribed",
	pageTestLink:     "Test mail",
}

// render writes page with status. The page is rendered to a buffer first
// so a template error still gives a complete answer.
func (p *pages) render(w http.ResponseWriter, status int, page string, d pageData) error {
	title, ok := pageTitles[page]
	if !ok {
		title = d.Heading
	}
	var buf bytes.Buffer
	err := p.t.ExecuteTemplate(&buf, "layout", layoutData{
		pageData: d, Page: page, Title: title, Site: p.site, SiteURL: p.siteURL, Lang: p.lang,
	})
	if err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("<!DOCTYPE html><title>Error</title><p>Something went wrong.</p>")
	}
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return err
}

// webLayout is the frame of every page; the content comes from the
// template named after the page.
const webLayout = `<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<meta name="color-scheme" content="light dark">
<title>{{.Title}} · {{.Site}}</title>
<style>
:root{--fg:#1f2937;--muted:#4b5563;--bg:#f3f4f6;--card:#fff;--line:#d1d5db;--accent:#1d4ed8;--accent-fg:#fff;--err:#b91c1c;--ok:#047857}
@media (prefers-color-scheme:dark){:root{--fg:#e5e7eb;--muted:#9ca3af;--bg:#111827;--card:#1f2937;--line:#374151;--accent:#60a5fa;--accent-fg:#0b1220;--err:#fca5a5;--ok:#6ee7b7}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:1.0625rem/1.6 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:32rem;margin:0 auto;padding:2.5rem 1rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:.75rem;padding:1.5rem 1.25rem}
.site{margin:0 0 1rem;font-size:.95rem;font-weight:600;color:var(--muted)}
.site a{color:inherit;text-decoration:none}
h1{margin:0 0 .75rem;font-size:1.5rem;line-height:1.25}
p{margin:0 0 1rem}
label{display:block;font-weight:600;margin:0 0 .35rem}
input[type=email]{display:block;width:100%;font:inherit;padding:.7rem .8rem;border:1px solid var(--line);border-radius:.5rem;background:var(--card);color:var(--fg)}
input[type=email]:focus,button:focus{outline:3px solid var(--accent);outline-offset:2px}
button{display:inline-block;margin-top:1rem;font:inherit;font-weight:600;padding:.7rem 1.4rem;border:0;border-radius:.5rem;background:var(--accent);color:var(--accent-fg);cursor:pointer;min-height:44px}
button:hover{filter:brightness(1.1)}
.hint{font-size:.9rem;color:var(--muted);margin:1rem 0 0}
.error{color:var(--err);font-weight:600}
.ok{color:var(--ok)}
.hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
a{color:var(--accent)}
</style>
</head>
<body>
<main>
<div class="card">
<p class="site">{{if .SiteURL}}<a href="{{.SiteURL}}">{{.Site}}</a>{{else}}{{.Site}}{{end}}</p>
{{if eq .Page "subscribe"}}{{template "subscribe" .}}{{else if eq .Page "check-inbox"}}{{template "check-inbox" .}}{{else if eq .Page "confirm"}}{{template "confirm" .}}{{else if eq .Page "confirmed"}}{{template "confirmed" .}}{{else if eq .Page "invalid-link"}}{{template "invalid-link" .}}{{else if eq .Page "expired-link"}}{{template "expired-link" .}}{{else if eq .Page "unsubscribe"}}{{template "unsubscribe" .}}{{else if eq .Page "unsubscribed"}}{{template "unsubscribed" .}}{{else if eq .Page "test-link"}}{{template "test-link" .}}{{else}}{{template "problem" .}}{{end}}
</div>
</main>
</body>
</html>
`

// webPages holds one template per page. Links and form actions are
// relative, so the pages work under any path prefix a reverse proxy adds.
const webPages = `
{{define "subscribe"}}<h1>Subscribe by email</h1>
<p>Get new posts from {{.Site}} in your inbox. We will send you a link to confirm.</p>
<form method="post" action="subscribe">
{{if .Error}}<p class="error" id="email-error" role="alert">{{.Error}}</p>{{end}}
<label for="email">Email address</label>
<input type="email" id="email" name="email" value="{{.Email}}" required maxlength="254" autocomplete="email" inputmode="email" autocapitalize="off" spellcheck="false"{{if .Error}} aria-invalid="true" aria-describedby="email-error"{{end}}>
<div class="hp" aria-hidden="true"><label for="website">Leave this field empty</label><input type="text" id="website" name="website" tabindex="-1" autocomplete="off"></div>
<button type="submit">Subscribe</button>
</form>
<p class="hint">One email per new post. Every email has a link to unsubscribe.</p>
{{end}}

{{define "check-inbox"}}<h1>Check your inbox</h1>
<p>We sent a confirmation link to <strong>{{.Email}}</strong>. Open it to start your subscription.</p>
<p class="hint">The link is valid for {{.TTL}}. Nothing there? Look in your spam folder, or <a href="subscribe">try again</a>.</p>
{{end}}

{{define "confirm"}}<h1>Confirm your subscription</h1>
<p>Send new posts from {{.Site}} to <strong>{{.Email}}</strong>?</p>
<form method="post" action="{{.Action}}">
<button type="submit">Confirm subscription</button>
</form>
<p class="hint">Did not ask for this? Close this page: nothing will be sent.</p>
{{end}}

{{define "confirmed"}}<h1 class="ok">{{if .Already}}You are subscribed{{else}}Subscription confirmed{{end}}</h1>
<p>{{if .Already}}<strong>{{.Email}}</strong> is already subscribed to {{.Site}}.{{else}}Thank you! New posts from {{.Site}} will be sent to <strong>{{.Email}}</strong>.{{end}}</p>
<p class="hint">Every email has a link to unsubscribe.</p>
{{end}}

{{define "invalid-link"}}<h1>This link is not valid</h1>
<p>The link may have been cut or changed. Copy the whole link from the email into the address bar, or <a href="subscribe">subscribe again</a>.</p>
{{end}}

{{define "expired-link"}}<h1>This link has expired</h1>
<p>The link is no longer valid. Please <a href="subscribe">subscribe again</a> to get a new one.</p>
{{end}}

{{define "test-link"}}<h1>This was a test mail</h1>
<p>This link came in a test mail (<code>herald send -to</code>) sent to an address that is not subscribed to {{.Site}}. There is nothing to unsubscribe: the address gets no newsletters.</p>
<p class="hint">In the newsletter, each subscriber's link unsubscribes them with one click.</p>
{{end}}

{{define "unsubscribe"}}<h1>Unsubscribe</h1>
<p>Stop sending new posts from {{.Site}} to <strong>{{.Email}}</strong>?</p>
<form method="post" action="{{.Action}}">
<button type="submit">Unsubscribe</button>
</form>
{{end}}

{{define "unsubscribed"}}<h1>{{if .Already}}You are not subscribed{{else}}You are unsubscribed{{end}}</h1>
<p>{{if .Email}}<strong>{{.Email}}</strong> will get no more emails from {{.Site}}.{{else}}You will get no more emails from {{.Site}}.{{end}}</p>
<p class="hint">Changed your mind? <a href="subscribe">Subscribe again</a>.</p>
{{end}}

{{define "problem"}}<h1>{{.Heading}}</h1>
<p>{{.Message}}</p>
<p class="hint"><a href="subscribe">Back to the subscribe page</a></p>
{{end}}
`
