package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"herald/mailer/smtptest"
	"herald/schedule/store"
	"herald/schedule/store/postgres"
)

// testDatabase creates a PostgreSQL database on $HERALD_TEST_POSTGRES for
// the test (dropped at its end) or skips the test.
func testDatabase(t *testing.T) string {
	t.Helper()
	server := os.Getenv("HERALD_TEST_POSTGRES")
	if server == "" {
		t.Skip("HERALD_TEST_POSTGRES is unset: no PostgreSQL for the multi-daemon test (.ci/run starts one)")
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "herald_cluster_" + hex.EncodeToString(b)
	ctx := context.Background()
	loc, err := postgres.CreateDatabase(ctx, server, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := postgres.DropDatabase(ctx, server, name); err != nil {
			t.Error(err)
		}
	})
	return loc
}

// TestClusterDeliversOnce runs three `herald run` processes (the real
// binary) on one PostgreSQL database and one SMTP sink, with 20,000
// subscribers and a post that becomes due while they run. One daemon is
// SIGKILLed mid-send, another SIGTERMed and restarted: every subscriber
// gets the post, the duplicates stay within one claim per killed daemon
// (its deliveries in flight, at most mail.smtp.concurrency), and the post
// is announced once.
func TestClusterDeliversOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("short: the multi-daemon test builds herald and sends 20,000 messages")
	}
	loc := testDatabase(t)
	const (
		subscribers = 20000
		concurrency = 4
	)
	ctx := context.Background()
	dir := t.TempDir()

	// The list, straight into the database.
	db, err := postgres.Open(ctx, loc, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	subs := make([]store.NewSubscriber, subscribers)
	for i := range subs {
		subs[i] = store.NewSubscriber{Email: fmt.Sprintf("reader%05d@example.org", i), Status: store.StatusConfirmed, Source: store.SourceImport}
	}
	if _, err := db.AddSubscribers(ctx, time.Now().Add(-time.Hour), subs); err != nil {
		t.Fatal(err)
	}

	// Counts the messages each recipient receives and keeps no bodies
	// (20,000 of them would be large).
	sink := smtptest.New(t, smtptest.Options{NoSTARTTLS: true, Discard: true})

	bin := filepath.Join(dir, "herald")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	posts := filepath.Join(dir, "posts")
	if err := os.MkdirAll(posts, 0o755); err != nil {
		t.Fatal(err)
	}
	// Due a few seconds after the daemons start: announced while they run.
	due := time.Now().UTC().Add(6 * time.Second)
	post := fmt.Sprintf("---\ntitle: Shared Post\ndate: %s\n---\nBody.\n\n# TLDR\n\nFor everyone, once.\n", due.Format("2006-01-02 15:04:05 -0700"))
	if err := os.WriteFile(filepath.Join(posts, due.Format("2006-01-02")+"-shared.md"), []byte(post), 0o644); err != nil {
		t.Fatal(err)
	}
	config := func(i int) string {
		path := filepath.Join(dir, fmt.Sprintf("config%d.toml", i))
		cfg := fmt.Sprintf(`[site]
title = "Cluster"
url = "https://blog.example.com"
[posts]
dir = %q
[feeds]
dir = %q
[schedule]
cron = "@every 1h"
[mail]
transport = "smtp"
from = "Blog <news@blog.example.com>"
lease = "3s"
[mail.smtp]
host = "127.0.0.1"
port = %d
tls = "none"
concurrency = %d
[server]
listen = ""
[state]
database = %q
`, posts, filepath.Join(dir, fmt.Sprintf("public%d", i)), sink.Port, concurrency, loc)
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	type proc struct {
		cmd    *exec.Cmd
		stderr *bytes.Buffer
		done   chan error
	}
	start := func(i int) *proc {
		p := &proc{stderr: &bytes.Buffer{}, done: make(chan error, 1)}
		p.cmd = exec.Command(bin, "-config", config(i), "-log-level", "warn", "run")
		p.cmd.Stderr = &syncWriter{w: p.stderr}
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { p.done <- p.cmd.Wait() }()
		return p
	}
	procs := []*proc{start(0), start(1), start(2)}
	defer func() {
		for _, p := range procs {
			if p.cmd.ProcessState == nil {
				p.cmd.Process.Kill()
				<-p.done
			}
		}
	}()
	waitTotal := func(n int, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			d, total := sink.Totals()
			if total >= n || d >= subscribers {
				return
			}
			if time.Now().After(deadline) {
				for i, p := range procs {
					t.Logf("daemon %d stderr:\n%s", i, p.stderr)
				}
				t.Fatalf("after %v: %d messages to %d recipients, waiting for %d", within, total, d, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	waitTotal(subscribers/8, 2*time.Minute)
	if err := procs[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		d, total := sink.Totals()
		t.Fatalf("SIGKILL daemon 0 (%d messages to %d so far): %v\n%s", total, d, err, procs[0].stderr)
	}
	<-procs[0].done
	_, atKill := sink.Totals()
	t.Logf("SIGKILL daemon 0 after %d messages", atKill)

	waitTotal(subscribers*2/5, 2*time.Minute)
	if err := procs[1].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-procs[1].done; err != nil {
		t.Errorf("daemon 1 after SIGTERM: %v\n%s", err, procs[1].stderr)
	}
	_, atTerm := sink.Totals()
	t.Logf("SIGTERM daemon 1 after %d messages; restarting it", atTerm)
	procs[1] = start(1)

	waitTotal(1<<62, 4*time.Minute) // until every subscriber has it
	time.Sleep(4 * time.Second)     // a late duplicate (an expired lease taken over) would arrive now
	for i, p := range procs[1:] {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := <-p.done; err != nil {
			t.Errorf("daemon %d stop: %v\n%s", i+1, err, p.stderr)
		}
	}

	distinct, total := sink.Totals()
	if distinct != subscribers {
		t.Errorf("%d subscribers got the post, want all %d", distinct, subscribers)
	}
	dups := total - distinct
	if limit := 2 * concurrency; dups > limit {
		t.Errorf("%d duplicate messages, want at most %d (one claim, the deliveries in flight, per killed daemon)", dups, limit)
	}
	t.Logf("%d messages to %d subscribers: %d duplicates", total, distinct, dups)
	as, err := db.Announcements(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 {
		t.Errorf("%d announcements, want the post announced once: %+v", len(as), as)
	}
	c, err := db.CountDeliveries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Sent != subscribers || c.Pending+c.Sending+c.Retry+c.Failed != 0 {
		t.Errorf("ledger %+v, want %d sent and nothing else", c, subscribers)
	}
}

// syncWriter serialises writes to a buffer that a test may read.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
