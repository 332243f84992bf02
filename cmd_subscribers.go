package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"herald/mailer"
	"herald/schedule/store"
)

const subscribersUsage = `usage: herald subscribers add [-pending] [-name NAME] ADDR...
       herald subscribers remove ADDR...
       herald subscribers list [-status pending|confirmed|unsubscribed]
       herald subscribers import [-pending] FILE|-     (CSV: email[,name])
       herald subscribers export [FILE|-]              (CSV)
       herald subscribers unsuppress ADDR...           (mail an address again after bounces)`

// runSubscribers manages the subscriber list in the database; it is safe
// to use while the daemon runs.
func (m *Main) runSubscribers(ctx context.Context) error {
	if len(m.Args) == 0 {
		return &usageError{"subscribers: missing subcommand\n" + subscribersUsage}
	}
	sub, args := m.Args[0], m.Args[1:]
	if sub == "unsuppress" {
		return m.runUnsuppress(ctx, args)
	}
	fs := m.flags("subscribers " + sub)
	pending := fs.Bool("pending", false, "add as pending (not mailed until confirmed) instead of confirmed")
	name := fs.String("name", "", "display name (add, one address)")
	status := fs.String("status", "", "list only subscribers with this status")
	switch sub {
	case "add", "remove", "list", "import", "export":
	default:
		return &usageError{fmt.Sprintf("subscribers: unknown subcommand %q\n%s", sub, subscribersUsage)}
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	args = fs.Args()
	e, err := m.openEnv(ctx, false, false)
	if err != nil {
		return err
	}
	db := e.db
	now := time.Now()
	switch sub {
	case "add":
		if len(args) == 0 {
			return &usageError{"subscribers add: give at least one address"}
		}
		st := store.StatusConfirmed
		if *pending {
			st = store.StatusPending
		}
		bad := 0
		for _, a := range args {
			email, n, err := mailer.ParseAddress(a)
			if err != nil {
				fmt.Fprintf(m.Stderr, "%s: %v\n", a, err)
				bad++
				continue
			}
			if *name != "" {
				n = *name
			}
			s, created, err := db.AddSubscriber(ctx, now, email, n, st, store.SourceCLI)
			if err != nil {
				return err
			}
			if created {
				fmt.Fprintf(m.Stdout, "added %s (%s)\n", s.Email, s.Status)
			} else {
				fmt.Fprintf(m.Stdout, "%s is already on the list (%s)\n", s.Email, s.Status)
			}
		}
		if bad > 0 {
			return silentError(1)
		}
	case "remove":
		if len(args) == 0 {
			return &usageError{"subscribers remove: give at least one address"}
		}
		missing := 0
		for _, a := range args {
			email, _, err := mailer.ParseAddress(a)
			if err != nil {
				email = a
			}
			if err := db.RemoveSubscriber(ctx, email); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					fmt.Fprintf(m.Stderr, "%s: not on the list\n", a)
					missing++
					continue
				}
				return err
			}
			fmt.Fprintf(m.Stdout, "removed %s\n", email)
		}
		if missing > 0 {
			return silentError(1)
		}
	case "list":
		st := store.SubscriberStatus(*status)
		switch st {
		case "", store.StatusPending, store.StatusConfirmed, store.StatusUnsubscribed:
		default:
			return &usageError{fmt.Sprintf("subscribers list: -status must be pending, confirmed or unsubscribed, got %q", *status)}
		}
		tw := tabwriter.NewWriter(m.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EMAIL\tNAME\tSTATUS\tSOURCE\tADDED\tCONFIRMED\tLEFT")
		err := db.EachSubscriber(ctx, st, func(s store.Subscriber) error {
			_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Email, s.Name, s.Status, s.Source,
				day(s.CreatedAt), day(s.ConfirmedAt), day(s.UnsubscribedAt))
			return err
		})
		if err != nil {
			return err
		}
		return tw.Flush()
	case "import":
		if len(args) != 1 {
			return &usageError{"subscribers import: give one FILE, or - for standard input"}
		}
		r, closeFn, err := m.openInput(args[0])
		if err != nil {
			return err
		}
		defer closeFn()
		res, err := mailer.Import(ctx, db, r, now, *pending)
		if err != nil {
			return err
		}
		for _, b := range res.Bad {
			fmt.Fprintf(m.Stderr, "%s:%d: %v\n", args[0], b.Line, b.Err)
		}
		fmt.Fprintf(m.Stdout, "imported %d, already known %d, rejected %d\n", res.Added, res.Existing, len(res.Bad))
		if len(res.Bad) > 0 {
			return silentError(1)
		}
	case "export":
		if len(args) > 1 {
			return &usageError{"subscribers export: at most one FILE"}
		}
		w := m.Stdout
		if len(args) == 1 && args[0] != "-" {
			f, err := os.Create(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			if err := mailer.Export(ctx, db, f); err != nil {
				return err
			}
			return f.Close()
		}
		return mailer.Export(ctx, db, w)
	}
	return nil
}

func (m *Main) openInput(name string) (io.Reader, func() error, error) {
	if name == "-" {
		return m.Stdin, func() error { return nil }, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}
