package bounce

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Handle takes one message read from the mailbox and reports whether it
// was recognised (a bounce, complaint or auto-reply for this list, now
// recorded): recognised messages are moved to the processed folder, the
// others left exactly as they were. An error leaves the message for the
// next poll.
type Handle func(ctx context.Context, raw []byte) (recognised bool, err error)

// maxPerPoll bounds the messages read in one poll.
const maxPerPoll = 200

// Poller reads the unseen messages of an IMAP mailbox (over TLS only) and
// moves the recognised ones to the processed folder. It never deletes,
// flags or otherwise touches a message: it reads with BODY.PEEK (the
// \Seen flag stays as it was), and it moves with MOVE or, without it,
// with UID COPY + UID STORE + UID EXPUNGE of exactly those UIDs (UIDPLUS);
// a server with neither is refused rather than risking a plain EXPUNGE.
type Poller struct {
	cfg      IMAPConfig
	password string
	tls      *tls.Config
	handle   Handle
	clock    TimerClock
	log      *slog.Logger

	// ignored holds the UIDs of unrecognised messages, so that they are
	// not read again on every poll; reset when UIDVALIDITY changes.
	validity uint32
	ignored  map[imap.UID]bool
}

// PollerOptions are the optional parts of a Poller.
type PollerOptions struct {
	// TLSConfig: nil means the system roots (ServerName from the host);
	// tests give their own roots.
	TLSConfig *tls.Config
	Clock     TimerClock   // the waits between polls; nil: the system clock
	Logger    *slog.Logger // nil: discard
}

// NewPoller returns a poller for cfg (validated) that hands each message
// to handle.
func NewPoller(cfg IMAPConfig, password string, handle Handle, opts PollerOptions) *Poller {
	log, tlsConfig, clock := opts.Logger, opts.TLSConfig, opts.Clock
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = systemClock{}
	}
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	tlsConfig = tlsConfig.Clone()
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = cfg.Host
	}
	tlsConfig.MinVersion = tls.VersionTLS12
	return &Poller{cfg: cfg, password: password, tls: tlsConfig, handle: handle, clock: clock, log: log, ignored: map[imap.UID]bool{}}
}

// Run polls at once and then cfg.Interval after each poll (on the
// Poller's clock) until ctx is canceled; failures are logged and retried
// at the next interval.
func (p *Poller) Run(ctx context.Context) {
	t := p.clock.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		moved, err := p.Poll(ctx)
		if err != nil && ctx.Err() == nil {
			p.log.Error("bounce mailbox poll failed", "host", p.cfg.Host, "err", err)
		} else if moved > 0 {
			p.log.Info("bounce mailbox polled", "processed", moved)
		}
		t.Reset(p.cfg.Interval.Duration)
	}
}

// Poll reads the mailbox once and returns how many messages it moved.
func (p *Poller) Poll(ctx context.Context) (int, error) {
	addr := net.JoinHostPort(p.cfg.Host, strconv.Itoa(p.cfg.Port))
	c, err := imapclient.DialTLS(addr, &imapclient.Options{TLSConfig: p.tls, Dialer: &net.Dialer{Timeout: 30 * time.Second}})
	if err != nil {
		return 0, fmt.Errorf("bounce: imap %s: %w", addr, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	n, err := p.poll(ctx, c)
	if err == nil {
		err = c.Logout().Wait()
	}
	if err != nil {
		return n, fmt.Errorf("bounce: imap %s: %w", addr, err)
	}
	return n, nil
}

func (p *Poller) poll(ctx context.Context, c *imapclient.Client) (int, error) {
	if err := c.Login(p.cfg.Username, p.password).Wait(); err != nil {
		return 0, fmt.Errorf("login: %w", err)
	}
	caps := c.Caps()
	if !caps.Has(imap.CapMove) && !caps.Has(imap.CapUIDPlus) && !caps.Has(imap.CapIMAP4rev2) {
		return 0, errors.New("the server supports neither MOVE nor UIDPLUS: Herald will not risk expunging other messages")
	}
	sel, err := c.Select(p.cfg.Mailbox, nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("select %q: %w", p.cfg.Mailbox, err)
	}
	if sel.UIDValidity != p.validity {
		p.validity, p.ignored = sel.UIDValidity, map[imap.UID]bool{}
	}
	found, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("search: %w", err)
	}
	var todo []imap.UID
	for _, uid := range found.AllUIDs() {
		if !p.ignored[uid] && len(todo) < maxPerPoll {
			todo = append(todo, uid)
		}
	}
	if len(todo) == 0 {
		return 0, nil
	}
	sizes, err := c.Fetch(imap.UIDSetNum(todo...), &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return 0, fmt.Errorf("fetch sizes: %w", err)
	}
	var move []imap.UID
	section := &imap.FetchItemBodySection{Peek: true}
	for _, m := range sizes {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if m.RFC822Size > MaxMessageSize {
			p.ignored[m.UID] = true
			continue
		}
		msgs, err := c.Fetch(imap.UIDSetNum(m.UID), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		if err != nil {
			return 0, fmt.Errorf("fetch %d: %w", m.UID, err)
		}
		if len(msgs) != 1 {
			continue // expunged meanwhile
		}
		ok, err := p.handle(ctx, msgs[0].FindBodySection(section))
		if err != nil {
			p.log.Error("bounce not recorded; left in the mailbox", "uid", m.UID, "err", err)
			continue
		}
		if ok {
			move = append(move, m.UID)
		} else {
			p.ignored[m.UID] = true
		}
	}
	if len(move) == 0 {
		return 0, nil
	}
	// Create the folder (an error when it exists already is expected).
	if err := c.Create(p.cfg.Processed, nil).Wait(); err != nil {
		p.log.Debug("imap create", "folder", p.cfg.Processed, "err", err)
	}
	if _, err := c.Move(imap.UIDSetNum(move...), p.cfg.Processed).Wait(); err != nil {
		return 0, fmt.Errorf("move to %q: %w", p.cfg.Processed, err)
	}
	return len(move), nil
}
