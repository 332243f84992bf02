package mailer_test

import (
	"fmt"
	"log"
	"net/mail"
	"strings"
	"time"

	"herald/feed"
	"herald/feed/testkit"
	"herald/mailer"
)

// A Composer renders a post's newsletter once (Prepare) and addresses it to
// each subscriber (Message).
func ExampleComposer() {
	site := feed.DefaultSite()
	site.Title, site.URL = "Example Blog", "https://blog.example.com"
	if err := site.Validate(); err != nil {
		log.Fatal(err)
	}
	cfg := mailer.Default()
	cfg.From = "Example Blog <news@blog.example.com>"
	if err := cfg.Validate(); err != nil {
		log.Fatal(err)
	}
	clock := testkit.NewClock(time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)) // nil: the system clock
	c, err := mailer.NewComposer(&cfg, &site, clock)
	if err != nil {
		log.Fatal(err)
	}

	p, err := c.Prepare([]mailer.PostMail{{
		Title:   "Hello, feeds",
		URL:     "https://blog.example.com/2026/01/15/hello/",
		Date:    time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC),
		Section: &feed.Section{Heading: "TLDR", HTML: "<p>Feeds are back.</p>", Text: "Feeds are back."},
	}})
	if err != nil {
		log.Fatal(err)
	}
	msg, err := p.Message(mailer.Recipient{
		Email:          "reader@example.org",
		UnsubscribeURL: "https://blog.example.com/herald/unsubscribe?token=abc",
	}, "1.2@blog.example.com")
	if err != nil {
		log.Fatal(err)
	}

	m, err := mail.ReadMessage(strings.NewReader(string(msg.Bytes())))
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range []string{"From", "To", "Subject", "Date", "List-Unsubscribe"} {
		fmt.Printf("%s: %s\n", h, m.Header.Get(h))
	}
	// Output:
	// From: "Example Blog" <news@blog.example.com>
	// To: <reader@example.org>
	// Subject: Hello, feeds
	// Date: Thu, 15 Jan 2026 10:00:00 +0000
	// List-Unsubscribe: <https://blog.example.com/herald/unsubscribe?token=abc>
}
