package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"herald/mailer"
	"herald/mailer/bounce"
	"herald/schedule"
	"herald/schedule/store"
)

// bounceDB is what the bounce commands and the daemon's bounce parts need
// of the store.
type bounceDB interface {
	mailer.BounceStore
	mailer.BounceRatesStore
	mailer.SecretStore
	Bounces(ctx context.Context, since time.Time, limit int) ([]store.BounceEvent, error)
	BouncesFor(ctx context.Context, email string) ([]store.BounceEvent, error)
	SuppressionOf(ctx context.Context, id int64) (store.Suppression, error)
	Unsuppress(ctx context.Context, email string) (bool, error)
	AttemptsFor(ctx context.Context, subscriberID int64, limit int) ([]store.Attempt, error)
	PruneBounceRaw(ctx context.Context, before time.Time) (int64, error)
}

// Every backend keeps bounces (store.BounceStore is part of store.Store).
var _ bounceDB = store.Store(nil)

// openBounceStore opens the state database for a bounces command.
func (m *Main) openBounceStore(ctx context.Context) (bounceDB, error) {
	e, err := m.openEnv(ctx, false, false)
	if err != nil {
		return nil, err
	}
	return e.db, nil
}

// complained reports whether subscriber id complained (a spam report):
// such an address is never subscribed again by `subscribers add`.
func complained(ctx context.Context, db bounceDB, id int64) bool {
	sp, err := db.SuppressionOf(ctx, id)
	return err == nil && !sp.ComplainedAt.IsZero()
}

// runBounces is `herald bounces`.
func (m *Main) runBounces(ctx context.Context) error {
	if len(m.Args) == 0 {
		return &usageError{msg: "bounces: missing subcommand", usage: subcommandsUsage("bounces")}
	}
	sub, args := m.Args[0], m.Args[1:]
	if isHelp(sub) {
		fmt.Fprint(m.Stdout, subcommandsUsage("bounces"))
		return flag.ErrHelp
	}
	fs := m.flags("bounces " + sub)
	var since *string
	switch sub {
	case "list":
		since = fs.String("since", "30d", "list events received in this `PERIOD`: 30d, 12h, 90m")
	case "show", "process":
	default:
		return &usageError{msg: fmt.Sprintf("bounces: unknown subcommand %q", sub), usage: subcommandsUsage("bounces")}
	}
	if err := m.parse(fs, args); err != nil {
		return err
	}
	args = fs.Args()
	var period time.Duration
	if sub == "list" {
		d, err := parsePeriod(*since)
		if err != nil {
			return &usageError{msg: "bounces list: -since: " + err.Error(), usage: commandUsage(fs, "bounces "+sub)}
		}
		period = d
		if len(args) != 0 {
			return &usageError{msg: "bounces list takes no arguments", usage: commandUsage(fs, "bounces "+sub)}
		}
	} else if len(args) != 1 {
		return &usageError{msg: "bounces " + sub + ": give exactly one " + map[string]string{"show": "ADDRESS", "process": "FILE or -"}[sub], usage: commandUsage(fs, "bounces "+sub)}
	}
	db, err := m.openBounceStore(ctx)
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		return m.listBounces(ctx, db, m.clock().Now().Add(-period))
	case "show":
		return m.showBounces(ctx, db, args[0])
	}
	return m.processBounce(ctx, db, args[0])
}

// parsePeriod reads "30d", "12h", "90m".
func parsePeriod(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("want a period such as 30d or 12h, got %q", s)
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("want a period such as 30d or 12h, got %q", s)
	}
	return d, nil
}

func (m *Main) listBounces(ctx context.Context, db bounceDB, since time.Time) error {
	list, err := db.Bounces(ctx, since, 0)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintf(m.Stdout, "No bounces, complaints or auto-replies since %s.\n", since.UTC().Format(time.RFC3339))
		return nil
	}
	tw := tabwriter.NewWriter(m.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIVED\tTYPE\tSOURCE\tADDRESS\tMAILING\tSTATUS\tOUTCOME\tDIAGNOSTIC")
	for _, ev := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.ReceivedAt.Format(time.RFC3339), ev.Type, ev.Source,
			orDash(ev.Email), mailingLabel(ev.MailingID), orDash(ev.Status), ev.Outcome, clip(ev.Diagnostic, 80))
	}
	return tw.Flush()
}

// maxShownAttempts is how many failed attempts `bounces show` lists.
const maxShownAttempts = 20

func (m *Main) showBounces(ctx context.Context, db bounceDB, addr string) error {
	w := m.Stdout
	if s, err := db.Subscriber(ctx, addr); err == nil {
		fmt.Fprintf(w, "%s: subscriber #%d, %s", s.Email, s.ID, s.Status)
		sp, err := db.SuppressionOf(ctx, s.ID)
		if err != nil {
			return err
		}
		if !sp.SuppressedAt.IsZero() {
			fmt.Fprintf(w, ", suppressed since %s (%s bounces; `herald subscribers unsuppress %s` lifts it)",
				sp.SuppressedAt.Format(time.RFC3339), sp.Reason, s.Email)
		}
		if !sp.ComplainedAt.IsZero() {
			fmt.Fprintf(w, ", complained %s", sp.ComplainedAt.Format(time.RFC3339))
		}
		fmt.Fprintln(w)
		attempts, err := db.AttemptsFor(ctx, s.ID, maxShownAttempts)
		if err != nil {
			return err
		}
		if len(attempts) > 0 {
			fmt.Fprintf(w, "Failed attempts (newest first, at most %d):\n", maxShownAttempts)
		}
		for _, a := range attempts {
			code := "no reply"
			if a.Code > 0 {
				code = strconv.Itoa(a.Code)
			}
			fmt.Fprintf(w, "  %s mailing #%d, attempt %d: %s %s\n", a.At.Format(time.RFC3339), a.MailingID, a.Attempt, code, printable(a.Text, ""))
		}
	} else if errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(w, "%s: not a subscriber\n", addr)
	} else {
		return err
	}
	list, err := db.BouncesFor(ctx, addr)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(w, "No bounces, complaints or auto-replies recorded.")
		return nil
	}
	for _, ev := range list {
		fmt.Fprintf(w, "\n#%d %s %s from %s", ev.ID, ev.ReceivedAt.Format(time.RFC3339), ev.Type, ev.Source)
		if ev.MailingID > 0 {
			fmt.Fprintf(w, " (mailing #%d)", ev.MailingID)
		}
		fmt.Fprintf(w, ": %s\n", ev.Outcome)
		if ev.Action != "" || ev.Status != "" {
			fmt.Fprintf(w, "  action %s, status %s\n", orDash(ev.Action), orDash(ev.Status))
		}
		if ev.Diagnostic != "" {
			fmt.Fprintf(w, "  %s\n", ev.Diagnostic)
		}
		if ev.Raw != nil {
			fmt.Fprintf(w, "  --- raw message (%d bytes) ---\n", len(ev.Raw))
			w.Write(ev.Raw)
			if len(ev.Raw) > 0 && ev.Raw[len(ev.Raw)-1] != '\n' {
				fmt.Fprintln(w)
			}
			fmt.Fprintln(w, "  --- end ---")
		}
	}
	return nil
}

// processBounce is `herald bounces process FILE|-`.
func (m *Main) processBounce(ctx context.Context, db bounceDB, name string) error {
	var r io.Reader = m.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	raw, err := io.ReadAll(io.LimitReader(r, bounce.MaxMessageSize+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	if len(raw) > bounce.MaxMessageSize {
		return fmt.Errorf("%s: over the %d byte limit", name, bounce.MaxMessageSize)
	}
	b, err := m.newBounces(ctx, db)
	if err != nil {
		return err
	}
	p, err := b.Process(ctx, nil, raw)
	if err != nil {
		return err
	}
	switch {
	case p.Forged:
		fmt.Fprintln(m.Stdout, "ignored: its VERP address does not verify (forged or damaged); nothing changed")
	case !p.Recognised():
		fmt.Fprintln(m.Stdout, "not recognised as a bounce, complaint or auto-reply; nothing changed")
	}
	for _, ev := range p.Events {
		fmt.Fprintf(m.Stdout, "%s %s (%s): %s, %s\n", p.Format, ev.Type, orDash(ev.Email), ev.Outcome, orDash(ev.Status))
	}
	return nil
}

// runUnsuppress is `herald subscribers unsuppress ADDRESS...`.
func (m *Main) runUnsuppress(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return &usageError{msg: "subscribers unsuppress: give at least one address"}
	}
	db, err := m.openBounceStore(ctx)
	if err != nil {
		return err
	}
	for _, a := range args {
		changed, err := db.Unsuppress(ctx, a)
		if err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
		if changed {
			fmt.Fprintf(m.Stdout, "%s: no longer suppressed\n", a)
		} else {
			fmt.Fprintf(m.Stdout, "%s: was not suppressed\n", a)
		}
	}
	return nil
}

// newBounces assembles the bounce processing of the configuration.
func (m *Main) newBounces(ctx context.Context, db bounceDB) (*mailer.Bounces, error) {
	c := &m.Config
	secret, err := mailer.LoadSecret(ctx, db, c.Server.SecretEnv, c.Server.SecretFile)
	if err != nil {
		return nil, err
	}
	return mailer.NewBounces(mailer.BouncesOptions{Store: db, Config: &c.Bounce, BounceAddress: c.Mail.BounceAddress,
		Secret: secret, Clock: m.clock(), Logger: m.Logger})
}

// startBounces starts the ways bounces come in that the configuration
// enables: the LMTP/SMTP receiver, the IMAP poller, the webhooks (on mux,
// when the HTTP server runs), and the hourly pruning of kept raw messages.
func (m *Main) startBounces(ctx context.Context, db bounceDB, mux *http.ServeMux, start func(string, func(context.Context) error)) error {
	c := &m.Config
	b, err := m.newBounces(ctx, db)
	if err != nil {
		return err
	}
	log := m.Logger
	if c.Bounce.Listen != "" {
		if c.Mail.BounceAddress == "" {
			return &configError{errors.New("bounce.listen needs mail.bounce_address (the receiver accepts only its domain)")}
		}
		ln, err := net.Listen("tcp", c.Bounce.Listen)
		if err != nil {
			return fmt.Errorf("bounce.listen: %w", err)
		}
		recv := bounce.NewReceiver(b.VERP().Domain(), c.Bounce.Protocol, func(ctx context.Context, env []string, raw []byte) error {
			_, err := b.Process(ctx, env, raw)
			return err
		}, log)
		log.Info("bounce receiver listening", "addr", ln.Addr().String(), "protocol", c.Bounce.Protocol, "domain", b.VERP().Domain())
		start("bounce receiver", func(ctx context.Context) error { return recv.Serve(ctx, ln) })
	}
	if c.Bounce.IMAP.Host != "" {
		pw, err := c.Bounce.IMAPPassword()
		if err != nil {
			return &configError{fmt.Errorf("bounce.imap: %w", err)}
		}
		p := bounce.NewPoller(c.Bounce.IMAP, pw, func(ctx context.Context, raw []byte) (bool, error) {
			res, err := b.Process(ctx, nil, raw)
			return res.Recognised(), err
		}, bounce.PollerOptions{Clock: bounceClock{m.clock()}, Logger: log})
		start("bounce mailbox", func(ctx context.Context) error { p.Run(ctx); return nil })
	}
	if mux != nil {
		wh, err := bounce.NewWebhooks(&c.Bounce, bounce.WebhookOptions{Sink: b.Webhook, Clock: m.clock(), Logger: log})
		if err != nil {
			return &configError{err}
		}
		for path, h := range wh.Routes() {
			mux.Handle("POST "+path, h)
			log.Info("bounce webhook enabled", "url", c.Server.PublicURL+path)
		}
	}
	keep := c.Bounce.KeepRaw.Duration
	start("bounce janitor", func(ctx context.Context) error {
		t := m.clock().NewTimer(time.Hour)
		defer t.Stop()
		for {
			if n, err := db.PruneBounceRaw(ctx, m.clock().Now().Add(-keep)); err != nil && ctx.Err() == nil {
				log.Warn("pruning kept bounce messages", "err", err)
			} else if n > 0 {
				log.Info("pruned kept bounce messages", "count", n)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C():
				t.Reset(time.Hour)
			}
		}
	})
	return nil
}

// bounceClock is the program's clock as a bounce.TimerClock.
type bounceClock struct{ schedule.Clock }

func (c bounceClock) NewTimer(d time.Duration) bounce.Timer { return c.Clock.NewTimer(d) }

// writeBounceStatus adds the bounce report to `herald status`.
func (m *Main) writeBounceStatus(ctx context.Context, db mailer.BounceRatesStore) error {
	r, err := mailer.LoadBounceReport(ctx, db, m.clock().Now())
	if err != nil {
		return err
	}
	return r.WriteText(m.Stdout)
}

// withBounceMetrics adds the bounce report (the last 30 days by clock) to
// the /metrics of write.
func withBounceMetrics(db mailer.BounceRatesStore, clock mailer.Clock, write func(io.Writer)) func(io.Writer) {
	return func(w io.Writer) {
		write(w)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if r, err := mailer.LoadBounceReport(ctx, db, clock.Now()); err == nil {
			r.WriteMetrics(w)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func mailingLabel(id int64) string {
	if id == 0 {
		return "-"
	}
	return "#" + strconv.FormatInt(id, 10)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-1], "") + "…"
}
