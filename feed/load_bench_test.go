package feed

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time so far. Benchmarks report
// it per operation besides wall time, which on a busy machine measures the
// neighbours more than the code.
func cpuTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScan measures Loader.Scan on 1,000 and 10,000 generated posts of
// the seed post's size: "cold" is a new Loader each time (every file read,
// hashed and parsed; the OS page cache is warm), "rescan" a Loader that has
// scanned before and finds nothing changed (directory reads and stats only).
// cpu-ms/op is user+system CPU time (all threads) per scan.
//
//	go test ./feed -run '^$' -bench BenchmarkScan -benchmem
func BenchmarkScan(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		dir := b.TempDir()
		writeBenchPosts(b, dir, n)
		site := loaderSite(b, "UTC", "")
		ctx := context.Background()
		check := func(b *testing.B, snap *Snapshot) {
			if len(snap.Posts) != n {
				b.Fatalf("%d posts, want %d", len(snap.Posts), n)
			}
		}
		b.Run(fmt.Sprintf("cold/posts=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuTime(b)
			for b.Loop() {
				snap, err := NewLoader(site, dir, nil).Scan(ctx)
				if err != nil {
					b.Fatal(err)
				}
				check(b, snap)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "posts/s")
			b.ReportMetric(float64(cpuTime(b)-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
		b.Run(fmt.Sprintf("rescan/posts=%d", n), func(b *testing.B) {
			l := NewLoader(site, dir, nil)
			if _, err := l.Scan(ctx); err != nil {
				b.Fatal(err)
			}
			reads := l.reads.Load()
			b.ReportAllocs()
			cpu := cpuTime(b)
			for b.Loop() {
				snap, err := l.Scan(ctx)
				if err != nil {
					b.Fatal(err)
				}
				check(b, snap)
			}
			if l.reads.Load() != reads {
				b.Fatalf("rescans read %d files, want 0", l.reads.Load()-reads)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "posts/s")
			b.ReportMetric(float64(cpuTime(b)-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}
