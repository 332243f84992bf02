package sqlite

import (
	"context"
	"fmt"
	"herald/schedule/store"
	"slices"
	"testing"
	"time"
)

// t0 is the tests' "now".
var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// post returns a SeenPost named id, dated date, due when date <= now.
func post(id string, date, now time.Time) store.SeenPost {
	return store.SeenPost{
		ID: id, Path: "_posts/" + id + ".md", Slug: id, Title: "Title " + id,
		URL: "https://example.com/" + id + "/", Hash: "h-" + id,
		Date: date, Due: !date.After(now),
	}
}

// makePosts returns n posts dated one minute apart from start.
func makePosts(n int, start time.Time, due bool) []store.SeenPost {
	ps := make([]store.SeenPost, n)
	for i := range ps {
		id := fmt.Sprintf("post-%05d", i)
		ps[i] = store.SeenPost{
			ID: id, Path: "_posts/" + id + ".md", Slug: id, Title: "Post " + id,
			URL: "https://example.com/" + id + "/", Hash: fmt.Sprintf("%064x", i),
			Date: start.Add(time.Duration(i) * time.Minute), Due: due,
		}
	}
	return ps
}

func record(t *testing.T, db *DB, now time.Time, posts []store.SeenPost, backfill bool) store.RecordResult {
	t.Helper()
	res, err := db.Record(context.Background(), now, posts, backfill)
	if err != nil {
		t.Fatalf("Record: %v", err)
	}
	return res
}

func TestRecordEmptyCostsNothing(t *testing.T) {
	db := openTest(t, tempDB(t))
	record(t, db, t0, []store.SeenPost{post("a", t0.Add(-time.Minute), t0)}, false) // seeds
	// With the database closed any query would fail: a steady-state Record
	// with nothing to record must not run one.
	db.sql.Close()
	if res, err := db.Record(context.Background(), t0, nil, false); err != nil || res.Seeded || res.Announced != nil {
		t.Errorf("Record(nil) after seeding = %+v, %v; want nothing and no error", res, err)
	}
}

// BenchmarkRecord10k: the first run on a blog of 10,000 due posts; then
// steady state with 1 new post, passed alone (as the daemon does) or among
// all 10,000 (a caller that passes everything).
func BenchmarkRecord10k(b *testing.B) {
	ctx := context.Background()
	posts := makePosts(10000, t0.Add(-365*24*time.Hour), true)

	b.Run("first-run", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			db, err := open(ctx, tempDB(b), busyTimeout)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			res, err := db.Record(ctx, t0, posts, false)
			if err != nil || len(res.Announced) != len(posts) {
				b.Fatal(err, len(res.Announced))
			}
			b.StopTimer()
			db.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(len(posts)*b.N)/b.Elapsed().Seconds(), "posts/s")
	})

	for _, all := range []bool{false, true} {
		name := "steady-1-new-alone"
		if all {
			name = "steady-1-new-among-10k"
		}
		b.Run(name, func(b *testing.B) {
			db, err := open(ctx, tempDB(b), busyTimeout)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Record(ctx, t0, posts, false); err != nil {
				b.Fatal(err)
			}
			batch := slices.Clone(posts)
			i := 0
			for b.Loop() {
				p := store.SeenPost{ID: fmt.Sprintf("new-%d", i), Path: "new.md", Date: t0, Due: true}
				i++
				in := []store.SeenPost{p}
				if all {
					batch = append(batch[:len(posts)], p)
					in = batch
				}
				res, err := db.Record(ctx, t0, in, false)
				if err != nil || len(res.Announced) != 1 {
					b.Fatal(err, len(res.Announced))
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
