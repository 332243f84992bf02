package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"herald/mailer/smtptest"
	"herald/schedule/store/sqlite"
)

// TestSendInterrupted: Ctrl-C (SIGINT) during `herald send POST`, a real
// process against a real SMTP server: it stops cleanly with exit 130 (no
// "context canceled"), its summary counts this post's deliveries only and
// equals the ledger's (another post's due deliveries are sent by the same
// run and reported apart), nothing is left claimed, and a second `herald
// send` finishes the list with 0 duplicates and 0 missing.
func TestSendInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("a real herald process")
	}
	sink := smtptest.New(t, smtptest.Options{NoSTARTTLS: true})
	e := newEnv(t, daemonConfig+smtpConfig(sink.Port, `concurrency = 2
rate = 60.0
`))
	const n, early = 200, 10
	var subs []string
	for i := range n {
		subs = append(subs, fmt.Sprintf("reader%03d@example.org", i))
	}
	for _, p := range []string{"2024-01-01-first-post", "2024-01-02-second-post"} {
		post := "---\ntitle: " + p + "\ndate: 2024-01-01 10:00:00\n---\n# TLDR\n\nShort.\n"
		if err := os.WriteFile(e.path("posts/"+p+".md"), []byte(post), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Another post's mailing for the first few subscribers is due and not
	// sent yet (as a stopped daemon leaves it): the send delivers it too,
	// and reports it apart.
	mustRun(t, e, append([]string{"subscribers", "add"}, subs[:early]...)...)
	ctx := context.Background()
	db, err := sqlite.Open(ctx, e.path("var/herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, _, err := db.Announce(ctx, now, seenPost(findPost(t, e, "first-post"), now)); err != nil {
		t.Fatal(err)
	}
	if ids, err := db.CreateManualMailings(ctx, now); err != nil || len(ids) != 1 {
		t.Fatalf("CreateManualMailings = %v, %v", ids, err)
	} else if k, err := db.ExpandMailing(ctx, now, ids[0]); err != nil || k != early {
		t.Fatalf("ExpandMailing = %d, %v", k, err)
	}
	db.Close()
	mustRun(t, e, append([]string{"subscribers", "add"}, subs[early:]...)...)

	var out bytes.Buffer
	cmd := exec.Command(os.Args[0], "-config", e.config, "send", "posts/2024-01-02-second-post.md")
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "HERALD_TEST_AS_HERALD=1")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waitFor(t, 20*time.Second, func() bool { return sink.Delivered() >= early+30 })
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	select {
	case waitErr = <-exited:
	case <-time.After(40 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("herald send did not stop after SIGINT:\n%s", out.String())
	}
	var exit *exec.ExitError
	if !errors.As(waitErr, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("herald send after SIGINT: %v, want exit status 130\n%s", waitErr, out.String())
	}
	text := out.String()
	if strings.Contains(text, "context canceled") || !strings.Contains(text, "herald: interrupted") {
		t.Errorf("the interrupted send says:\n%s", text)
	}
	m := regexp.MustCompile(`interrupted: "2024-01-02-second-post": sent (\d+), failed (\d+), retrying later (\d+) \(of (\d+) to deliver\); (\d+) not sent yet`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no summary of the interrupted send:\n%s", text)
	}
	num := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	sent, total, left := num(1), num(4), num(5)

	// The ledger: this post's mailing, as the summary says.
	db, err = sqlite.Open(ctx, e.path("var/herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	stats, err := db.DeliveryStats(ctx, 0)
	counts, cerr := db.CountDeliveries(ctx)
	db.Close()
	if err != nil || cerr != nil || len(stats) != 2 {
		t.Fatalf("stats = %+v, %v, %v", stats, err, cerr)
	}
	st := stats[0] // newest first: the second post's mailing
	if other := stats[1]; other.Sent != early || !strings.Contains(text, fmt.Sprintf("also due for other posts: sent %d, failed 0", early)) {
		t.Errorf("the other post's mailing: %+v; the send says:\n%s", other, text)
	}
	if st.Sent != sent || st.Total() != total || st.Pending+st.Retrying != left || total != n {
		t.Errorf("summary: sent %d of %d, %d left; ledger: %+v", sent, total, left, st)
	}
	if sent+early != sink.Delivered() || sent == 0 || sent == n {
		t.Errorf("summary says %d sent (and %d of the other post), the server accepted %d (of %d)", sent, early, sink.Delivered(), n)
	}
	if counts.Sending != 0 {
		t.Errorf("%d deliveries left claimed after a clean stop; want 0 (back to pending)", counts.Sending)
	}

	// Resumed: everyone once.
	r := mustRun(t, e, "send", "posts/2024-01-02-second-post.md")
	if !strings.Contains(r.stdout, fmt.Sprintf("sent %d, failed 0, retrying later 0 (of %d due)", n-sent, n-sent)) {
		t.Errorf("the resumed send says:\n%s", r.stdout)
	}
	got := sink.Counts() // per recipient: the first post's and the second's
	missing, dups := 0, 0
	for i, a := range subs {
		want := 1
		if i < early {
			want = 2
		}
		switch c := got[a]; {
		case c < want:
			missing += want - c
		case c > want:
			dups += c - want
		}
	}
	if missing != 0 || dups != 0 {
		t.Errorf("after the resumed send: %d missing, %d duplicates; want 0 and 0", missing, dups)
	}
}

// TestSendInterruptedTwice: a second Ctrl-C while the first waits for the
// sends in flight ends the process at once; what it held in flight is
// taken over when its lease (mail.lease) runs out, so a later send leaves
// no one out and sends at most the deliveries in flight twice.
func TestSendInterruptedTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("a real herald process")
	}
	sink := smtptest.New(t, smtptest.Options{NoSTARTTLS: true})
	// A slow server (every reply 100 ms late): the sends in flight take a
	// while to finish after the first SIGINT, time for the second.
	port := slowProxy(t, sink.Addr, 100*time.Millisecond)
	e := newEnv(t, daemonConfig+fmt.Sprintf(`
[mail]
transport = "smtp"
from = "Test Blog <news@blog.example.com>"
lease = "2s"
[mail.smtp]
host = "127.0.0.1"
port = %d
tls = "none"
concurrency = 2
`, port))
	const n = 24
	var subs []string
	for i := range n {
		subs = append(subs, fmt.Sprintf("reader%03d@example.org", i))
	}
	mustRun(t, e, append([]string{"subscribers", "add"}, subs...)...)
	post := "---\ntitle: Twice\ndate: 2024-01-01 10:00:00\n---\n# TLDR\n\nShort.\n"
	if err := os.WriteFile(e.path("posts/2024-01-01-twice.md"), []byte(post), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(os.Args[0], "-config", e.config, "send", "twice")
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "HERALD_TEST_AS_HERALD=1")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waitFor(t, 20*time.Second, func() bool { return sink.Delivered() >= 3 })
	cmd.Process.Signal(os.Interrupt)
	time.Sleep(150 * time.Millisecond) // the first one is handled: the sends in flight are finishing
	cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("herald send did not stop after two SIGINTs:\n%s", out.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("after a second SIGINT herald send ended with %v, want killed by SIGINT\n%s", cmd.ProcessState, out.String())
	}
	// Past the lease, a new send takes over what the killed one held.
	time.Sleep(2500 * time.Millisecond)
	mustRun(t, e, "send", "twice")
	got := sink.Counts()
	missing, dups := 0, 0
	for _, a := range subs {
		switch c := got[a]; {
		case c == 0:
			missing++
		case c > 1:
			dups += c - 1
		}
	}
	t.Logf("killed after the second SIGINT; after the resumed send: %d missing, %d duplicates (bound: concurrency 2)", missing, dups)
	if missing != 0 || dups > 2 {
		t.Errorf("%d missing, %d duplicates; want 0 and at most 2 (the deliveries in flight)", missing, dups)
	}
}

// slowProxy listens on 127.0.0.1 and forwards each connection to addr,
// holding every chunk the server sends for delay; it returns its port.
func slowProxy(t *testing.T, addr string, delay time.Duration) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(s, c); s.Close() }()
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						time.Sleep(delay)
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}
