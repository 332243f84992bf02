package main

import (
	"context"
	"fmt"

	"herald/feed"
	"herald/mailer"
)

// runCheck validates the configuration, every post (including the Liquid
// and Markdown warnings of rendering it) and the feeds built from them. It
// prints each problem as file:line: message and exits 1 on any error.
func (m *Main) runCheck(ctx context.Context) error {
	loader, snap, err := m.scanPosts(ctx)
	if err != nil {
		return err
	}
	c := &m.Config
	for _, s := range c.Sources {
		fmt.Fprintln(m.Stdout, s)
	}
	problems := append([]feed.Problem(nil), snap.Problems...)
	for _, p := range snap.Posts {
		problems = append(problems, loader.Check(ctx, p)...)
	}
	errs := m.printProblems(problems)
	out, err := feed.Generate(ctx, loader, &c.Site, &c.Feeds, snap, m.clock().Now())
	if err != nil {
		fmt.Fprintln(m.Stderr, err)
		errs++
	}
	if out != nil {
		errs += m.printProblems(feed.Lint(out))
	}
	warns := len(problems) - m.countErrors(problems)
	if d := &c.Mail.DKIM; d.Enabled() {
		comp, err := mailer.NewComposer(&c.Mail, &c.Site, m.clock())
		if err != nil {
			return err
		}
		if from := comp.From().Address; !mailer.DKIMAligned(from, d.Domain) {
			fmt.Fprintf(m.Stdout, "%s: warning: mail.dkim.domain %q is not aligned with the From address %s: DMARC checks of receivers will fail (sign with the From domain or a parent of it)\n", c.Path, d.Domain, from)
			warns++
		}
	}
	fmt.Fprintf(m.Stdout, "%s: configuration ok; %d posts, %d errors, %d warnings\n", c.Path, len(snap.Posts), errs, warns)
	if errs > 0 {
		return silentError(1)
	}
	return nil
}

func (m *Main) countErrors(ps []feed.Problem) int {
	n := 0
	for _, p := range ps {
		if !p.Warning {
			n++
		}
	}
	return n
}
