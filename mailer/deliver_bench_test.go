package mailer

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"herald/feed"
	"herald/mailer/smtptest"
	"herald/schedule/store"
	"herald/schedule/store/sqlite"
)

var benchSubscribers = flag.Int("bench.subscribers", 10000, "subscribers in BenchmarkDeliver (100000 checks that memory stays flat)")

// BenchmarkDeliver is the whole path: ledger (expand, claim, record each
// message in SQLite), render (Prepare once, Message per recipient), SMTP
// over reused STARTTLS+AUTH connections to the in-process sink. Each
// iteration mails one new post (a ~20 KB message) to every subscriber.
// Compare with BenchmarkGoMailCeiling. Run with -benchtime=1x.
func BenchmarkDeliver(b *testing.B) {
	for _, conc := range []int{1, 4} {
		b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
			ctx := context.Background()
			srv := smtptest.New(b, smtptest.Options{Discard: true})
			db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "herald.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			now := time.Now().Add(-time.Hour)
			if _, err := db.Record(ctx, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), nil, false); err != nil { // a first run before the post
				b.Fatal(err)
			}
			n := *benchSubscribers
			var csv strings.Builder
			for i := range n {
				fmt.Fprintf(&csv, "subscriber%06d@example.org\n", i)
			}
			if res, err := Import(ctx, db, strings.NewReader(csv.String()), now, false); err != nil || res.Added != n {
				b.Fatalf("import: %+v, %v", res, err)
			}
			csv = strings.Builder{}
			posts := &fixedPosts{posts: map[string]*feed.Post{}, sections: map[string]*feed.Section{}}
			cfg := smtpConfig(b, srv)
			cfg.SMTP.Concurrency = conc
			m, err := New(Options{
				Config: &cfg, Site: workerSite(), PublicURL: "https://blog.example.com/herald",
				Secret: []byte("bench-secret-0123456789abcdef"), DB: db, Posts: posts,
				Transport: smtpTransport(b, srv, cfg),
			})
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			peak := watchHeap()
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				id := fmt.Sprintf("post-%d", i)
				posts.posts[id] = &feed.Post{ID: id, Path: id + ".md", Title: "Finishing my Data Career Masterplan",
					URL: "https://blog.example.com/" + id + "/", Date: now, Published: true, Newsletter: true}
				posts.sections[id] = benchSection()
				if _, err := db.Record(ctx, time.Now(), []store.SeenPost{{ID: id, Path: id + ".md", Slug: id,
					Title: "t", URL: "u", Hash: "h", Date: now, Due: true}}, false); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				s, err := m.Drain(ctx)
				if err != nil || s.Sent != int64(n) {
					b.Fatalf("Drain = %+v, %v; want %d sent", s, err, n)
				}
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			heap := peak()
			if got := srv.Delivered(); got != b.N*n {
				b.Fatalf("sink got %d messages, want %d", got, b.N*n)
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MB")
			// On a busy machine wall-clock rates vary; CPU per message
			// (this process: worker and sink) is steadier.
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*n), "cpu-µs/msg")
			if rss := peakRSS(); rss > 0 {
				b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MB")
			}
		})
	}
}

// cpuTime is the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS is the process's peak resident set (Linux VmHWM; it includes
// SQLite's memory, which the Go heap does not), 0 when unknown.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// watchHeap samples the live heap (runtime/metrics: no stop-the-world) until
// the returned function is called, which reports the peak in bytes.
func watchHeap() func() uint64 {
	const name = "/memory/classes/heap/objects:bytes"
	sample := []metrics.Sample{{Name: name}}
	var (
		mu   sync.Mutex
		peak uint64
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	read := func() {
		metrics.Read(sample)
		mu.Lock()
		peak = max(peak, sample[0].Value.Uint64())
		mu.Unlock()
	}
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				read()
				return
			case <-t.C:
				read()
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}
