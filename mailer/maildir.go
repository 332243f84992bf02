package mailer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// MaildirTransport writes each message as one file in a Maildir: to tmp/,
// synced, then renamed into new/. It needs no server; it is the default
// transport and what `herald preview`-style local checks read.
type MaildirTransport struct {
	dir  string
	host string
	pid  int
	seq  atomic.Uint64
	now  func() time.Time
}

// NewMaildirTransport returns a transport writing into dir (created with
// tmp, new and cur on Open).
func NewMaildirTransport(dir string) *MaildirTransport {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	// Maildir's rule: "/" and ":" in the host name are written as octal escapes.
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	return &MaildirTransport{dir: dir, host: host, pid: os.Getpid(), now: time.Now}
}

// Dir returns the Maildir folder.
func (t *MaildirTransport) Dir() string { return t.dir }

// Open creates the Maildir folders when missing.
func (t *MaildirTransport) Open(ctx context.Context) (Conn, error) {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(t.dir, sub), 0o700); err != nil {
			return nil, &SendError{Text: "creating maildir", Temporary: true, Err: err}
		}
	}
	return &maildirConn{t: t}, nil
}

type maildirConn struct{ t *MaildirTransport }

// Send writes m to tmp/NAME, syncs it and renames it to new/NAME, where NAME
// is time.MusecPpidQseq.host and therefore unique.
func (c *maildirConn) Send(ctx context.Context, m *Message) error {
	if err := ctx.Err(); err != nil {
		return &SendError{Text: "maildir write canceled", Temporary: true, Err: err}
	}
	t := c.t
	now := t.now()
	name := fmt.Sprintf("%d.M%dP%dQ%d.%s", now.Unix(), now.Nanosecond()/1000, t.pid, t.seq.Add(1), t.host)
	tmp := filepath.Join(t.dir, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return &SendError{Text: "maildir write", Temporary: true, Err: err}
	}
	_, err = m.WriteTo(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(t.dir, "new", name))
	}
	if err != nil {
		os.Remove(tmp)
		return &SendError{Text: "maildir write", Temporary: true, Err: err}
	}
	// The rename is durable only once new/ is synced: the ledger records
	// the message sent right after this returns.
	if err := syncDir(filepath.Join(t.dir, "new")); err != nil {
		return &SendError{Text: "maildir sync", Temporary: true, Err: err}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func (c *maildirConn) Close() error { return nil }
