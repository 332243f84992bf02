package schedule

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time: on a loaded machine it
// measures the work better than the wall clock.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writeBenchPosts writes n posts made from testdata/seed-post.md (13 KB of
// real Markdown each), one a day back from 2024-05-31, with mtimes an hour
// old (so the Loader's racy-mtime check does not re-read them).
func writeBenchPosts(b *testing.B, dir string, n int) {
	b.Helper()
	old := time.Now().Add(-time.Hour)
	day := time.Date(2024, 5, 31, 9, 0, 0, 0, time.UTC)
	for i := range n {
		date := day.AddDate(0, 0, -i)
		name := fmt.Sprintf("%s-post-%05d.md", date.Format("2006-01-02"), i)
		sub := filepath.Join(dir, date.Format("2006"))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		file := filepath.Join(sub, name)
		data := seedPost(b, fmt.Sprintf("Post number %d", i), date.Format("2006-01-02 15:04:05"))
		if err := os.WriteFile(file, data, 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.Chtimes(file, old, old); err != nil {
			b.Fatal(err)
		}
	}
}

// benchDaemon sets up 10,000 posts and a daemon that has scanned them once.
func benchDaemon(b *testing.B) (*env, *Daemon) {
	b.Helper()
	e := newEnv(b, "UTC")
	writeBenchPosts(b, e.posts, 10000)
	d, _ := e.daemon()
	start := time.Now()
	if _, err := d.Scan(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Logf("first scan of 10,000 posts (read, record, generate): %v", time.Since(start))
	return e, d
}

// BenchmarkRescanUnchanged10k: a rescan of 10,000 unchanged posts (target
// under 50 ms): directory reads and stats, the diff, no database writes, no
// rendering.
func BenchmarkRescanUnchanged10k(b *testing.B) {
	e, d := benchDaemon(b)
	ctx := context.Background()
	records := e.store.records.Load()
	cpu := cpuTime(b)
	b.ResetTimer()
	for b.Loop() {
		res, err := d.Scan(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if res.Generated || res.Recorded != 0 {
			b.Fatalf("unchanged rescan generated %v, recorded %d", res.Generated, res.Recorded)
		}
	}
	if e.store.records.Load() != records {
		b.Fatal("Record called on unchanged rescans")
	}
	perOp := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(10000/perOp, "posts/s")
	b.ReportMetric(perOp*1000, "ms/rescan")
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/rescan")
}

// BenchmarkOneNewPost10k: one new post among 10,000 (target: feeds
// rewritten in under 150 ms): the scan reads the one file, records and
// announces it, renders the newest feeds.limit posts (the others from the
// render cache) and rewrites the three feed files.
func BenchmarkOneNewPost10k(b *testing.B) {
	e, d := benchDaemon(b)
	ctx := context.Background()
	old := time.Now().Add(-time.Hour)
	i := 0
	var feedBytes int
	var cpu time.Duration
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		i++
		date := time.Date(2024, 6, 1, 0, 0, i, 0, time.UTC) // newer than every post, before the clock
		file := filepath.Join(e.posts, fmt.Sprintf("2024-06-01-new-%06d.md", i))
		if err := os.WriteFile(file, seedPost(b, fmt.Sprintf("New post %d", i), date.Format("2006-01-02 15:04:05")), 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.Chtimes(file, old, old); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c := cpuTime(b)
		res, err := d.Scan(ctx)
		cpu += cpuTime(b) - c
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Announced) != 1 || !res.Generated || len(res.Changed) != 3 {
			b.Fatalf("announced %d, generated %v, changed %v", len(res.Announced), res.Generated, res.Changed)
		}
		feedBytes = 0
		for _, f := range res.feeds {
			feedBytes += len(f.Data)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1000, "ms/new-post")
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/new-post")
	b.ReportMetric(float64(feedBytes)/1e6, "MB-feeds")
}

// BenchmarkProcessUnchanged10k is this package's share of an unchanged
// rescan of 10,000 posts: the diff against the database's view and the
// due-set fingerprint, without the Loader's folder walk.
func BenchmarkProcessUnchanged10k(b *testing.B) {
	e, d := benchDaemon(b)
	ctx := context.Background()
	snap, err := e.loader.Scan(ctx)
	if err != nil {
		b.Fatal(err)
	}
	now := e.clock.Now()
	d.scanMu.Lock()
	defer d.scanMu.Unlock()
	b.ResetTimer()
	for b.Loop() {
		res, err := d.process(ctx, snap, now, ScanResult{})
		if err != nil || res.Generated || res.Recorded != 0 {
			b.Fatalf("err %v, generated %v, recorded %d", err, res.Generated, res.Recorded)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1000, "ms/rescan")
}
