package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"herald/mailer/smtptest"
	"herald/schedule/store"
	"herald/schedule/store/postgres"
	"herald/schedule/store/sqlite"
)

var (
	benchDaemonSubs    = flag.Int("bench.daemon.subscribers", 5000, "BenchmarkDaemons: subscribers mailed per run")
	benchDaemonLatency = flag.Duration("bench.daemon.latency", 0, "BenchmarkDaemons: how long the SMTP sink takes to accept each message (a relay's latency); 0: at once")
	benchDaemonConc    = flag.Int("bench.daemon.concurrency", 4, "BenchmarkDaemons: mail.smtp.concurrency of each daemon")
	benchDaemonBin     = flag.String("bench.daemon.bin", "", "BenchmarkDaemons: the herald binary to run (default: built from this tree)")
)

// BenchmarkDaemons measures whole `herald run` processes mailing one post
// to -bench.daemon.subscribers confirmed subscribers through one SMTP
// sink on 127.0.0.1 (-bench.daemon.latency per message, any number of
// connections at once): one daemon on SQLite, one on PostgreSQL, three on
// one PostgreSQL. msgs/s is counted at the sink, from the first message
// to the last (start-up, scan and expansion left out); cpu-µs/msg is the
// daemons' user + system time (start-up included) per message; the
// PostgreSQL server's CPU is not in it. PostgreSQL comes from
// $HERALD_TEST_POSTGRES (for figures: a server with fsync on).
//
//	go test -run '^$' -bench Daemons -benchtime 1x .
func BenchmarkDaemons(b *testing.B) {
	bin := *benchDaemonBin
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "herald")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			b.Fatalf("go build: %v\n%s", err, out)
		}
	}
	for _, c := range []struct {
		name     string
		postgres bool
		daemons  int
	}{
		{"sqlite/daemons=1", false, 1},
		{"postgres/daemons=1", true, 1},
		{"postgres/daemons=3", true, 3},
	} {
		b.Run(c.name, func(b *testing.B) {
			var msgs int
			var wall, cpu time.Duration
			for range b.N {
				n, w, u := benchDaemonsOnce(b, bin, c.postgres, c.daemons)
				msgs += n
				wall += w
				cpu += u
			}
			b.ReportMetric(float64(msgs)/wall.Seconds(), "msgs/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(msgs), "cpu-µs/msg")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// benchDaemonsOnce runs one mailing with daemons processes and returns the
// messages, the time from the first to the last at the sink, and the
// daemons' CPU time.
func benchDaemonsOnce(b *testing.B, bin string, pg bool, daemons int) (int, time.Duration, time.Duration) {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	n := *benchDaemonSubs
	var (
		loc string
		db  store.Store
		err error
	)
	if pg {
		server := os.Getenv("HERALD_TEST_POSTGRES")
		if server == "" {
			b.Skip("HERALD_TEST_POSTGRES is unset: no PostgreSQL")
		}
		name := fmt.Sprintf("herald_bench_%d", time.Now().UnixNano())
		if loc, err = postgres.CreateDatabase(ctx, server, name); err != nil {
			b.Fatal(err)
		}
		defer postgres.DropDatabase(ctx, server, name)
		db, err = postgres.Open(ctx, loc, postgres.Options{})
	} else {
		loc = filepath.Join(dir, "herald.db")
		db, err = sqlite.Open(ctx, loc)
	}
	if err != nil {
		b.Fatal(err)
	}
	// A first run before the post, so that the post is new and mailed.
	if _, err := db.Record(ctx, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), nil, false); err != nil {
		b.Fatal(err)
	}
	subs := make([]store.NewSubscriber, n)
	for i := range subs {
		subs[i] = store.NewSubscriber{Email: fmt.Sprintf("reader%06d@example.org", i), Status: store.StatusConfirmed, Source: store.SourceImport}
	}
	if _, err := db.AddSubscribers(ctx, time.Now().Add(-time.Hour), subs); err != nil {
		b.Fatal(err)
	}
	db.Close()

	// Any number of connections at once; each message takes the latency
	// to be accepted; the first and last arrivals are recorded.
	sink := smtptest.New(b, smtptest.Options{NoSTARTTLS: true, Discard: true, Latency: *benchDaemonLatency, MaxRecipients: 1})

	posts := filepath.Join(dir, "posts")
	if err := os.MkdirAll(posts, 0o755); err != nil {
		b.Fatal(err)
	}
	post := "---\ntitle: Throughput\ndate: 2026-11-01 10:00:00\n---\nBody.\n\n# TLDR\n\nThe part everyone gets, about a paragraph long, as a newsletter has.\n"
	if err := os.WriteFile(filepath.Join(posts, "2026-11-01-throughput.md"), []byte(post), 0o644); err != nil {
		b.Fatal(err)
	}
	var procs []*exec.Cmd
	var stderr []*bytes.Buffer
	var exited []chan error
	for i := range daemons {
		cfg := filepath.Join(dir, fmt.Sprintf("config%d.toml", i))
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`[site]
title = "Bench"
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
[mail.smtp]
host = "127.0.0.1"
port = %d
tls = "none"
concurrency = %d
[server]
listen = ""
[state]
database = %q
`, posts, filepath.Join(dir, fmt.Sprintf("public%d", i)), sink.Port, *benchDaemonConc, loc)), 0o644); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(bin, "-config", cfg, "-log-level", "warn", "run")
		var eb bytes.Buffer
		cmd.Stderr = &syncWriter{w: &eb}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		procs = append(procs, cmd)
		stderr = append(stderr, &eb)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		exited = append(exited, done)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		d, _ := sink.Totals()
		if d >= n {
			break
		}
		for i, done := range exited {
			select {
			case err := <-done:
				for _, p := range procs {
					p.Process.Kill()
				}
				b.Fatalf("daemon %d exited (%v) with %d of %d subscribers mailed:\n%s", i, err, d, n, stderr[i])
			default:
			}
		}
		if time.Now().After(deadline) {
			for i, p := range procs {
				p.Process.Kill()
				b.Logf("daemon %d:\n%s", i, stderr[i])
			}
			b.Fatalf("%d of %d subscribers mailed after 10 minutes", d, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var cpu time.Duration
	for i, p := range procs {
		p.Process.Signal(syscall.SIGTERM)
		if err := <-exited[i]; err != nil {
			b.Errorf("daemon %d: %v\n%s", i, err, stderr[i])
		}
		cpu += p.ProcessState.UserTime() + p.ProcessState.SystemTime()
	}
	distinct, total := sink.Totals()
	first, last := sink.Window()
	if total != distinct {
		b.Errorf("%d messages to %d subscribers: duplicates", total, distinct)
	}
	return total, last.Sub(first), cpu
}
