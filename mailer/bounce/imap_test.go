package bounce

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"herald/feed"
	"herald/feed/testkit"
)

// imapFixture is an in-process IMAP server over TLS with one user whose
// INBOX holds the given messages (unseen unless marked).
type imapFixture struct {
	addr string
	pool *x509.CertPool
}

type seeded struct {
	raw   []byte
	flags []imap.Flag
}

func newIMAP(t *testing.T, msgs []seeded, caps imap.CapSet) *imapFixture {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("bounces", "imap-pass")
	if err := user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if _, err := user.Append("INBOX", literal(m.raw), &imap.AppendOptions{Flags: m.flags}); err != nil {
			t.Fatal(err)
		}
	}
	mem.AddUser(user)
	// httptest's certificate for 127.0.0.1, reused for IMAP over TLS.
	hs := httptest.NewUnstartedServer(nil)
	hs.StartTLS()
	cert := hs.TLS.Certificates[0]
	pool := x509.NewCertPool()
	pool.AddCert(hs.Certificate())
	hs.Close()
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:   caps,
		Logger: discardLogger{},
	})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &imapFixture{addr: ln.Addr().String(), pool: pool}
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

type lit struct {
	*bytes.Reader
}

func (l lit) Size() int64 { return int64(l.Reader.Len()) }

func literal(b []byte) imap.LiteralReader { return lit{bytes.NewReader(b)} }

func (f *imapFixture) config(t *testing.T) IMAPConfig {
	host, port, _ := net.SplitHostPort(f.addr)
	p, _ := strconv.Atoi(port)
	c := Default().IMAP
	c.Host, c.Port, c.Username = host, p, "bounces"
	c.Interval = feed.Duration{Duration: time.Minute}
	return c
}

// mailbox lists a folder's messages as subject → flags.
func (f *imapFixture) mailbox(t *testing.T, name string) map[string][]imap.Flag {
	t.Helper()
	c, err := imapclient.DialTLS(f.addr, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: f.pool}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("bounces", "imap-pass").Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]imap.Flag{}
	if sel.NumMessages == 0 {
		return out
	}
	msgs, err := c.Fetch(imap.SeqSetNum(seqs(sel.NumMessages)...), &imap.FetchOptions{Envelope: true, Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		out[m.Envelope.Subject] = m.Flags
	}
	return out
}

func seqs(n uint32) []uint32 {
	s := make([]uint32, n)
	for i := range s {
		s[i] = uint32(i + 1)
	}
	return s
}

func TestPoller(t *testing.T) {
	unrelated := []byte("From: friend@example.org\r\nTo: bounces@bounce.herald.test\r\nSubject: Lunch?\r\n\r\nAre you free?\r\n")
	seenDSN := readFixture(t, "postfix/remote-550.eml")
	f := newIMAP(t, []seeded{
		{raw: readFixture(t, "postfix/unknown-user.eml")},
		{raw: unrelated},
		{raw: readFixture(t, "vacation.eml")},
		{raw: seenDSN, flags: []imap.Flag{imap.FlagSeen}}, // already read by a person: not ours to take
		{raw: []byte("From: x@example.org\r\nSubject: Deleted by the owner\r\n\r\nx\r\n"), flags: []imap.Flag{imap.FlagDeleted}},
	}, imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapMove: {}})
	v := testVERP(t)
	var handled []string
	handle := func(_ context.Context, raw []byte) (bool, error) {
		rep, err := Parse(raw, nil, v)
		if err != nil {
			return false, err
		}
		handled = append(handled, rep.Subject)
		return rep.Format != FormatUnknown, nil
	}
	p := NewPoller(f.config(t), "imap-pass", handle, PollerOptions{TLSConfig: &tls.Config{RootCAs: f.pool}})
	n, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || len(handled) != 4 {
		t.Fatalf("moved %d, handled %q; want 2 moved of 4 unseen", n, handled)
	}
	inbox := f.mailbox(t, "INBOX")
	processed := f.mailbox(t, "Herald/Processed")
	_, dsn := processed["Undelivered Mail Returned to Sender"]
	_, vacation := processed["Out of Office: Hello"]
	if len(processed) != 2 || !dsn || !vacation {
		t.Fatalf("processed = %v, want the unseen DSN and the vacation reply", processed)
	}
	// The rest is exactly as it was: still there, flags unchanged (the
	// unrelated mail still unseen, the deleted one still only \Deleted).
	if len(inbox) != 3 {
		t.Fatalf("inbox = %v", inbox)
	}
	if fl := inbox["Lunch?"]; len(fl) != 0 {
		t.Errorf("unrelated mail flags = %v, want none", fl)
	}
	if fl := inbox["Deleted by the owner"]; len(fl) != 1 || fl[0] != imap.FlagDeleted {
		t.Errorf("deleted mail flags = %v", fl)
	}
	if fl := inbox["Undelivered Mail Returned to Sender"]; len(fl) != 1 || fl[0] != imap.FlagSeen {
		t.Errorf("seen DSN flags = %v", fl)
	}
	// The next poll does not read the unrelated mail again.
	handled = nil
	if n, err := p.Poll(context.Background()); err != nil || n != 0 || len(handled) != 0 {
		t.Fatalf("second poll: moved %d, handled %q, %v", n, handled, err)
	}
}

func TestPollerRefusesWithoutMoveOrUIDPlus(t *testing.T) {
	f := newIMAP(t, []seeded{{raw: readFixture(t, "postfix/unknown-user.eml")}}, imap.CapSet{imap.CapIMAP4rev1: {}})
	called := false
	p := NewPoller(f.config(t), "imap-pass", func(context.Context, []byte) (bool, error) {
		called = true
		return true, nil
	}, PollerOptions{TLSConfig: &tls.Config{RootCAs: f.pool}})
	if _, err := p.Poll(context.Background()); err == nil || called {
		t.Fatalf("poll without MOVE/UIDPLUS: err %v, handled %v", err, called)
	}
	if got := f.mailbox(t, "INBOX"); len(got) != 1 {
		t.Fatalf("inbox = %v", got)
	}
}

func TestPollerBadPassword(t *testing.T) {
	f := newIMAP(t, nil, imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapMove: {}})
	p := NewPoller(f.config(t), "wrong", nil, PollerOptions{TLSConfig: &tls.Config{RootCAs: f.pool}})
	if _, err := p.Poll(context.Background()); err == nil {
		t.Fatal("bad password accepted")
	}
}

// Run polls at once, then an interval after each poll on its clock: not
// before the interval has passed on the clock, and at once when it has.
func TestPollerRunWaitsOnItsClock(t *testing.T) {
	f := newIMAP(t, []seeded{{raw: readFixture(t, "postfix/unknown-user.eml")}}, imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapMove: {}})
	var polls atomic.Int32
	// An error leaves the message for the next poll: one call per poll.
	handle := func(context.Context, []byte) (bool, error) {
		polls.Add(1)
		return false, errors.New("database is locked")
	}
	clock := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	p := NewPoller(f.config(t), "imap-pass", handle, PollerOptions{TLSConfig: &tls.Config{RootCAs: f.pool}, Clock: fakeClock{clock}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// until: cond within 10 s (real time: the IMAP exchange), and the
	// poller waiting on the clock again.
	until := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond() || clock.Timers() == 0; time.Sleep(2 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d polls, %d timers", what, polls.Load(), clock.Timers())
			}
		}
	}
	until("the first poll at once", func() bool { return polls.Load() == 1 })
	clock.Advance(time.Minute - time.Second) // the interval is a minute
	time.Sleep(50 * time.Millisecond)
	if n := polls.Load(); n != 1 {
		t.Fatalf("%d polls before the interval passed on the clock, want 1", n)
	}
	clock.Advance(time.Second)
	until("the second poll an interval later", func() bool { return polls.Load() == 2 })
}

// fakeClock is a settable testkit.Clock as a TimerClock.
type fakeClock struct{ *testkit.Clock }

func (c fakeClock) NewTimer(d time.Duration) Timer { return c.Clock.NewTimer(d) }
