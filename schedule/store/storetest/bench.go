package storetest

import (
	"context"
	"fmt"
	"herald/schedule/store"
	"testing"
	"time"
)

// BenchClaimRecord measures the ledger's cost per message on bk: b.N
// deliveries claimed 4 at a time (a worker with mail.smtp.concurrency 4)
// and their outcomes recorded in groups of 4, as the worker does. It
// reports msgs/s.
func BenchClaimRecord(b *testing.B, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(b)
	subs := make([]store.NewSubscriber, b.N)
	for i := range subs {
		subs[i] = store.NewSubscriber{Email: fmt.Sprintf("u%07d@example.com", i), Status: store.StatusConfirmed, Source: store.SourceImport}
	}
	if _, err := db.AddSubscribers(ctx, t0.Add(-time.Hour), subs); err != nil {
		b.Fatal(err)
	}
	announce(b, db, t0, "p")
	ids := createMailings(b, db, t0, false)
	expand(b, db, t0, ids[0], int64(b.N))
	b.ResetTimer()
	for {
		list := claim(b, db, t0, 4)
		if len(list) == 0 {
			break
		}
		outs := make([]store.Outcome, len(list))
		for i, d := range list {
			outs[i] = store.Outcome{ID: d.ID, State: store.DeliverySent}
		}
		if _, err := db.RecordOutcomes(ctx, t0, worker.Owner, outs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
