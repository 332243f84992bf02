package sqlite

import (
	"context"
	"herald/schedule/store"
	"testing"
	"time"
)

// addSub adds a subscriber and fails the test on error.
func addSub(t testing.TB, db *DB, now time.Time, email string, status store.SubscriberStatus) store.Subscriber {
	t.Helper()
	s, _, err := db.AddSubscriber(context.Background(), now, email, "", status, store.SourceCLI)
	if err != nil {
		t.Fatalf("AddSubscriber(%s): %v", email, err)
	}
	return s
}
