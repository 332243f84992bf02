package mailer

import (
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"text/template"
	"time"
	"unicode/utf8"
)

//go:embed templates/*.html templates/*.txt
var embeddedTemplates embed.FS

type siteData struct {
	Title       string
	URL         string // site URL + baseurl
	Description string
	Language    string
}

type postData struct {
	Title    string
	URL      string
	Date     time.Time
	DateText string // "6 October 2023", in the site's zone
	Heading  string
	Fallback bool
	// Truncated: the section was cut at mail.max_section; the templates
	// add a "continue reading" link to URL.
	Truncated bool
	HTML      htmltemplate.HTML // the section, trusted from feed's renderer, with inline styles added
	Text      string
}

type recipientData struct {
	Email          string
	UnsubscribeURL string
}

// templateData is what newsletter.html/.txt and confirm.html/.txt receive.
type templateData struct {
	Site       siteData
	Title      string // post title, or "<first title>, and N more" for a digest
	Digest     bool
	Posts      []postData
	Preheader  string // hidden preview text (HTML only)
	Recipient  recipientData
	ConfirmURL string // confirmation mails only
	ValidFor   string // confirmation mails: how long ConfirmURL works, "48 hours"; "" unknown
	Footer     string // mail.footer (a postal address, say); "" none
}

type subjectData struct {
	Title  string
	Site   string
	Digest bool
	Posts  []postData
}

type templateSet struct {
	html, confirmHTML *htmltemplate.Template
	text, confirmText *template.Template
}

// parseTemplates reads newsletter.html, newsletter.txt and optionally
// confirm.html, confirm.txt from fsys; missing confirm templates come from the
// embedded set when optionalConfirm is true.
func parseTemplates(fsys fs.FS, where string, optionalConfirm bool) (*templateSet, error) {
	read := func(name string, optional bool) (string, error) {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			if optional && errors.Is(err, fs.ErrNotExist) {
				b, err = embeddedTemplates.ReadFile("templates/" + name)
			}
			if err != nil {
				return "", fmt.Errorf("reading %s/%s: %w", where, name, err)
			}
		}
		if !utf8.Valid(b) {
			return "", fmt.Errorf("%s/%s: not valid UTF-8", where, name)
		}
		return string(b), nil
	}
	var ts templateSet
	var err error
	ts.html = parseFile(&err, read, where, "newsletter.html", false, parseHTML)
	ts.text = parseFile(&err, read, where, "newsletter.txt", false, parseText)
	ts.confirmHTML = parseFile(&err, read, where, "confirm.html", optionalConfirm, parseHTML)
	ts.confirmText = parseFile(&err, read, where, "confirm.txt", optionalConfirm, parseText)
	if err != nil {
		return nil, err
	}
	// Execute once against sample data so that a template using an unknown
	// field fails at load, naming the file, not at the first mailing.
	sample := templateData{
		Site:      siteData{Title: "Blog", URL: "https://example.com", Language: "en"},
		Title:     "Title",
		Posts:     []postData{{Title: "Title", URL: "https://example.com/p/", DateText: "1 January 2024"}},
		Recipient: recipientData{Email: "a@example.com", UnsubscribeURL: "https://example.com/u"},
		ValidFor:  "48 hours",
		Footer:    "1 Main Street, Springfield",
	}
	for _, t := range []interface {
		Execute(io.Writer, any) error
	}{ts.html, ts.text, ts.confirmHTML, ts.confirmText} {
		if err := t.Execute(io.Discard, sample); err != nil {
			return nil, fmt.Errorf("%s/%w", where, err)
		}
	}
	return &ts, nil
}

// parseFile reads the template file name with read and parses it with
// parse. The first error is kept in *errp; once there is one, parseFile
// does nothing.
func parseFile[T any](errp *error, read func(name string, optional bool) (string, error), where, name string, optional bool, parse func(name, src string) (T, error)) T {
	var zero T
	if *errp != nil {
		return zero
	}
	src, err := read(name, optional)
	if err != nil {
		*errp = err
		return zero
	}
	t, err := parse(name, src)
	if err != nil {
		*errp = fmt.Errorf("%s/%w", where, err)
		return zero
	}
	return t
}

// parseHTML and parseText parse a mail template: an unknown field is an
// error, never an empty string in a mail.
func parseHTML(name, src string) (*htmltemplate.Template, error) {
	return htmltemplate.New(name).Option("missingkey=error").Parse(src)
}

func parseText(name, src string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Parse(src)
}
