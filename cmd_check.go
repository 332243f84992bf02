package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"herald/feed"
	"herald/mailer"
)

// runCheck validates the configuration, every post (including the Liquid
// and Markdown warnings of rendering it) and the feeds built from them. It
// prints each problem as file:line: message and exits 1 on any error.
func (m *Main) runCheck(ctx context.Context) error {
	// Building the feeds renders every post again, and the loader logs
	// each rendering warning: those check already printed as problems are
	// not logged a second time.
	printed := &printedFilter{mu: new(sync.Mutex), seen: map[string]bool{}}
	if m.Logger != nil {
		printed.next = m.Logger.Handler()
		m.Logger = slog.New(printed)
	}
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
	for _, p := range problems {
		printed.add(p)
	}
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

// printedFilter is a slog.Handler that drops the warnings already printed
// as problems (the loader logs a rendering warning with its file and line
// attributes and the problem's message) and passes everything else on.
type printedFilter struct {
	next slog.Handler
	mu   *sync.Mutex
	seen map[string]bool
}

func (f *printedFilter) key(file, line, msg string) string {
	return file + "\x00" + line + "\x00" + msg
}

func (f *printedFilter) add(p feed.Problem) {
	if !p.Warning {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen[f.key(p.File, strconv.Itoa(p.Line), p.Msg)] = true
}

func (f *printedFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return f.next.Enabled(ctx, l)
}

func (f *printedFilter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn {
		var file, line string
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "file":
				file = a.Value.String()
			case "line":
				line = a.Value.String()
			}
			return true
		})
		f.mu.Lock()
		dup := f.seen[f.key(file, line, r.Message)]
		f.mu.Unlock()
		if dup {
			return nil
		}
	}
	return f.next.Handle(ctx, r)
}

func (f *printedFilter) WithAttrs(as []slog.Attr) slog.Handler {
	return &printedFilter{next: f.next.WithAttrs(as), mu: f.mu, seen: f.seen}
}

func (f *printedFilter) WithGroup(name string) slog.Handler {
	return &printedFilter{next: f.next.WithGroup(name), mu: f.mu, seen: f.seen}
}
