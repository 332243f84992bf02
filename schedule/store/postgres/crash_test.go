package postgres

import (
	"context"
	"fmt"
	"herald/schedule/store"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// crashCluster is a PostgreSQL cluster of the test's own (durable commits,
// as in production; fsync off, since the test crashes the server's
// processes, never the machine), on a Unix socket in a temporary folder.
type crashCluster struct {
	bin, dir string
	asUser   []string // runuser prefix when the test runs as root
}

// startCrashCluster starts a private cluster, or skips the test when no
// PostgreSQL is installed (or HERALD_TEST_POSTGRES is unset: no PostgreSQL
// tests wanted).
func startCrashCluster(t *testing.T) *crashCluster {
	t.Helper()
	testServer(t)
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		t.Skip("no PostgreSQL under /usr/lib/postgresql/*/bin for a private cluster")
	}
	sort.Strings(bins)
	c := &crashCluster{bin: filepath.Dir(bins[len(bins)-1])}
	dir, err := os.MkdirTemp("", "herald-pgcrash-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(func() {
		c.run(t, "pg_ctl", "-D", c.dir+"/data", "-s", "-m", "immediate", "stop")
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root and no postgres user for a private cluster")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	if out, err := c.run(t, "initdb", "-D", dir+"/data", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	c.start(t)
	return c
}

func (c *crashCluster) run(t *testing.T, prog string, args ...string) ([]byte, error) {
	t.Helper()
	argv := append(append([]string{}, c.asUser...), append([]string{filepath.Join(c.bin, prog)}, args...)...)
	return exec.Command(argv[0], argv[1:]...).CombinedOutput()
}

// start starts the server: commits wait for the WAL (synchronous_commit
// on, the default), and nothing writes WAL behind the test's back
// (no autovacuum, no background writer, no timed checkpoint).
func (c *crashCluster) start(t *testing.T) {
	t.Helper()
	opts := "-c listen_addresses='' -k " + c.dir + " -c fsync=off -c synchronous_commit=on" +
		" -c autovacuum=off -c bgwriter_lru_maxpages=0 -c checkpoint_timeout=1d -c wal_writer_delay=10s"
	if out, err := c.run(t, "pg_ctl", "-D", c.dir+"/data", "-l", c.dir+"/server.log", "-w", "-s", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(c.dir + "/server.log")
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

func (c *crashCluster) url() string {
	return "postgres://postgres@/postgres?host=" + c.dir + "&sslmode=disable"
}

// TestClaimSurvivesServerCrash: a claim, once ClaimDeliveries has returned
// it, survives a crash of the server (its memory, WAL buffers included,
// lost; what was written to the WAL kept). The worker sends the claimed
// deliveries right away; had the claim vanished, the rows would be
// pending again after the crash and another daemon would claim and send
// them a second time, while the worker's outcome, recorded when the
// server is back, would match no row. Here: 3 claimed, the server
// crashes, another owner claims 0 of them, and the worker's outcomes are
// recorded for all 3.
func TestClaimSurvivesServerCrash(t *testing.T) {
	c := startCrashCluster(t)
	ctx := context.Background()
	db, err := Open(ctx, c.url(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if _, err := db.Record(ctx, now.Add(-2*time.Hour), nil, false); err != nil {
		t.Fatal(err)
	}
	post := store.SeenPost{ID: "p", Path: "_posts/p.md", Slug: "p", Title: "P", URL: "https://example.com/p/", Hash: "h", Date: now.Add(-time.Hour), Due: true}
	if _, err := db.Record(ctx, now, []store.SeenPost{post}, false); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, _, err := db.AddSubscriber(ctx, now.Add(-3*time.Hour), fmt.Sprintf("r%d@example.org", i), "", store.StatusConfirmed, store.SourceCLI); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := db.CreateMailings(ctx, now, false)
	if err != nil || len(ids) != 1 {
		t.Fatalf("CreateMailings = %v, %v", ids, err)
	}
	if n, err := db.ExpandMailing(ctx, now, ids[0]); err != nil || n != 3 {
		t.Fatalf("ExpandMailing = %d, %v", n, err)
	}

	// The WAL writer is held still, so that only what a commit writes
	// itself reaches the WAL before the crash.
	var walwriter int
	if err := db.pool.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'`).Scan(&walwriter); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(walwriter, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	worker := store.Lease{Owner: "host:1:worker", For: 2 * time.Minute}
	claimed, err := db.ClaimDeliveries(ctx, now, worker, 10)
	if err != nil || len(claimed) != 3 {
		syscall.Kill(walwriter, syscall.SIGCONT)
		t.Fatalf("ClaimDeliveries = %d, %v; want 3", len(claimed), err)
	}
	// The server crashes: a child killed makes the postmaster drop the
	// shared memory and replay the WAL.
	if err := syscall.Kill(walwriter, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, err = Open(ctx, c.url(), Options{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not back after the crash: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	other := store.Lease{Owner: "host:2:other", For: 2 * time.Minute}
	again, err := db.ClaimDeliveries(ctx, now.Add(time.Second), other, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Errorf("after the crash another daemon claimed %d of the 3 deliveries being sent (they would be sent twice)", len(again))
	}
	var outcomes []store.Outcome
	for _, d := range claimed {
		outcomes = append(outcomes, store.Outcome{ID: d.ID, State: store.DeliverySent, Code: 250})
	}
	n, err := db.RecordOutcomes(ctx, now.Add(2*time.Second), worker.Owner, outcomes)
	if err != nil || n != 3 {
		t.Errorf("the worker's outcomes after the crash: %d recorded, %v; want 3", n, err)
	}
}
