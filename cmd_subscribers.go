package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"herald/mailer"
	"herald/schedule/store"
)

// runSubscribers manages the subscriber list in the database; it is safe
// to use while the daemon runs. Each subcommand has its own flags.
func (m *Main) runSubscribers(ctx context.Context) error {
	if len(m.Args) == 0 {
		return &usageError{msg: "subscribers: missing subcommand", usage: subcommandsUsage("subscribers")}
	}
	sub, args := m.Args[0], m.Args[1:]
	if isHelp(sub) {
		fmt.Fprint(m.Stdout, subcommandsUsage("subscribers"))
		return flag.ErrHelp
	}
	fs := m.flags("subscribers " + sub)
	if sub == "unsuppress" {
		if err := m.parse(fs, args); err != nil {
			return err
		}
		return m.runUnsuppress(ctx, fs.Args())
	}
	var (
		pending, resubscribe *bool
		name, status         *string
	)
	switch sub {
	case "add":
		pending = fs.Bool("pending", false, "add as pending (not mailed until confirmed) instead of confirmed")
		resubscribe = fs.Bool("resubscribe", false, "subscribe again an address that unsubscribed or was removed (its history stays)")
		name = fs.String("name", "", "display `NAME` of the added addresses")
	case "import":
		pending = fs.Bool("pending", false, "import as pending (not mailed until confirmed) instead of confirmed")
	case "list":
		status = fs.String("status", "", "list only subscribers with this `STATUS`: pending, confirmed or unsubscribed")
	case "remove", "forget", "export":
	default:
		return &usageError{msg: fmt.Sprintf("subscribers: unknown subcommand %q", sub), usage: subcommandsUsage("subscribers")}
	}
	if err := m.parse(fs, args); err != nil {
		return err
	}
	args = fs.Args()
	switch {
	case (sub == "add" || sub == "remove" || sub == "forget") && len(args) == 0:
		return &usageError{msg: fmt.Sprintf("subscribers %s: give at least one address", sub), usage: commandUsage(fs, "subscribers "+sub)}
	case sub == "import" && len(args) != 1:
		return &usageError{msg: "subscribers import: give one FILE, or - for standard input", usage: commandUsage(fs, "subscribers "+sub)}
	case sub == "export" && len(args) > 1:
		return &usageError{msg: "subscribers export: at most one FILE", usage: commandUsage(fs, "subscribers "+sub)}
	case sub == "list" && len(args) > 0:
		return &usageError{msg: fmt.Sprintf("subscribers list: unexpected argument %q", args[0]), usage: commandUsage(fs, "subscribers "+sub)}
	}
	var st store.SubscriberStatus
	if status != nil {
		switch st = store.SubscriberStatus(*status); st {
		case "", store.StatusPending, store.StatusConfirmed, store.StatusUnsubscribed:
		default:
			return &usageError{msg: fmt.Sprintf("subscribers list: -status must be pending, confirmed or unsubscribed, got %q", *status), usage: commandUsage(fs, "subscribers "+sub)}
		}
	}
	e, err := m.openEnvMode(ctx, false, false, sub == "list" || sub == "export")
	if err != nil {
		return err
	}
	db := e.db
	now := m.clock().Now()
	switch sub {
	case "add":
		return m.addSubscribers(ctx, db, now, args, *name, *pending, *resubscribe)
	case "remove", "forget":
		missing := 0
		for _, a := range args {
			email, _, err := mailer.ParseAddress(a)
			if err != nil {
				email = a
			}
			msg, err := m.removeSubscriber(ctx, db, now, email, sub == "forget")
			if errors.Is(err, store.ErrNotFound) {
				fmt.Fprintf(m.Stderr, "%s: not on the list\n", a)
				missing++
				continue
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(m.Stdout, msg)
		}
		if missing > 0 {
			return silentError(1)
		}
	case "list":
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
		return mailer.Export(ctx, db, m.Stdout)
	}
	return nil
}

// addSubscribers adds each address; a known address is left as it is,
// except that -resubscribe subscribes again one that unsubscribed.
func (m *Main) addSubscribers(ctx context.Context, db store.Store, now time.Time, args []string, name string, pending, resubscribe bool) error {
	st := store.StatusConfirmed
	if pending {
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
		if name != "" {
			n = name
		}
		s, created, err := db.AddSubscriber(ctx, now, email, n, st, store.SourceCLI)
		if err != nil {
			return err
		}
		switch {
		case created:
			fmt.Fprintf(m.Stdout, "added %s (%s)\n", s.Email, s.Status)
		case s.Status == store.StatusUnsubscribed && resubscribe && complained(ctx, db, s.ID):
			fmt.Fprintf(m.Stdout, "%s complained (reported the newsletter as spam): not subscribed again; `herald subscribers unsuppress %s` first if they asked\n", s.Email, s.Email)
		case s.Status == store.StatusUnsubscribed && resubscribe:
			if _, err := db.SetSubscriberStatus(ctx, now, s.ID, st); err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "subscribed %s again (%s; the delivery history stays)\n", s.Email, st)
		case s.Status == store.StatusUnsubscribed:
			fmt.Fprintf(m.Stdout, "%s is on the list but unsubscribed (since %s): add -resubscribe to subscribe them again\n", s.Email, day(s.UnsubscribedAt))
		default:
			fmt.Fprintf(m.Stdout, "%s is already on the list (%s)\n", s.Email, s.Status)
		}
	}
	if bad > 0 {
		return silentError(1)
	}
	return nil
}

// removeSubscriber unsubscribes email, keeping its delivery history, or
// with forget erases the address and its personal data, keeping only
// anonymous counts. It returns what it did.
func (m *Main) removeSubscriber(ctx context.Context, db store.Store, now time.Time, email string, forget bool) (string, error) {
	if forget {
		if err := db.ForgetSubscriber(ctx, now, email); err != nil {
			return "", err
		}
		return fmt.Sprintf("forgot %s: the address and its personal data are erased; anonymous delivery counts stay", email), nil
	}
	s, err := db.Subscriber(ctx, email)
	if err != nil {
		return "", err
	}
	changed, err := db.SetSubscriberStatus(ctx, now, s.ID, store.StatusUnsubscribed)
	if err != nil {
		return "", err
	}
	if !changed {
		return fmt.Sprintf("%s was already unsubscribed", s.Email), nil
	}
	return fmt.Sprintf("removed %s: unsubscribed, its delivery history stays (subscribers forget erases it)", s.Email), nil
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
