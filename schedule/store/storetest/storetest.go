package storetest

import (
	"context"
	"errors"
	"herald/schedule/store"
	"testing"
)

// Backend is what the suite needs of a backend under test.
type Backend struct {
	// New creates an empty database for the test, removed when the test
	// ends, and returns its location (a file path, a URL).
	New func(t testing.TB) string
	// Open opens a handle on the database at loc, closed when the test
	// ends. Several handles on one database stand for several processes.
	Open func(t testing.TB, loc string) store.Store
}

// fresh opens a handle on a new empty database.
func (bk Backend) fresh(t testing.TB) store.Store {
	t.Helper()
	return bk.Open(t, bk.New(t))
}

// Run runs every case of the suite against bk, each in its own parallel
// subtest on its own database.
func Run(t *testing.T, bk Backend) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, bk)
		})
	}
}

var cases = []struct {
	name string
	fn   func(*testing.T, Backend)
}{
	{"Meta", testMeta},
	{"RecordFirstRun", testRecordFirstRun},
	{"RecordEmptyBlogFirstRun", testRecordEmptyBlogFirstRun},
	{"RecordAnnouncesOnce", testRecordAnnouncesOnce},
	{"RecordRestartDoesNotReannounce", testRecordRestartDoesNotReannounce},
	{"RecordBecomesDueLater", testRecordBecomesDueLater},
	{"RecordDeletedThenReadded", testRecordDeletedThenReadded},
	{"RecordDateMovedToFuture", testRecordDateMovedToFuture},
	{"RecordEmptyID", testRecordEmptyID},
	{"TimesUTC", testTimesUTC},
	{"Announce", testAnnounce},
	{"AnnouncementsOrderAndLimit", testAnnouncementsOrderAndLimit},
	{"RecordManyFirstRun", testRecordManyFirstRun},
	{"RecordRenamedPostNotMailedAgain", testRecordRenamedPostNotMailedAgain},
	{"RecordConcurrentAnnouncesOnce", testRecordConcurrentAnnouncesOnce},
	{"EmailKey", testEmailKey},
	{"AddSubscriber", testAddSubscriber},
	{"AddSubscriberNeverResubscribes", testAddSubscriberNeverResubscribes},
	{"SubscriberLookup", testSubscriberLookup},
	{"SetSubscriberStatus", testSetSubscriberStatus},
	{"ForgetSubscriber", testForgetSubscriber},
	{"EachSubscriberAndCount", testEachSubscriberAndCount},
	{"EachSubscriberFnWrites", testEachSubscriberFnWrites},
	{"InitMeta", testInitMeta},
	{"AddSubscribers", testAddSubscribers},
	{"CreateMailingsPerPost", testCreateMailingsPerPost},
	{"CreateMailingsDigest", testCreateMailingsDigest},
	{"ExpandMailingRecipients", testExpandMailingRecipients},
	{"ExpandDigestCutoff", testExpandDigestCutoff},
	{"PostCandidates", testPostCandidates},
	{"SkipMailing", testSkipMailing},
	{"DeliveryLifecycle", testDeliveryLifecycle},
	{"UnsubscribeDropsWaitingDeliveries", testUnsubscribeDropsWaitingDeliveries},
	{"ClaimConcurrent", testClaimConcurrent},
	{"RecordOutcomes", testRecordOutcomes},
	{"Leases", testLeases},
	{"Attempts", testAttempts},
	{"DeletePendingAndIDsNeverReused", testDeletePendingAndIDsNeverReused},
	{"Members", testMembers},
	{"SnapshotWithAnnouncement", testSnapshotWithAnnouncement},
	{"AnnouncementSnapshot", testAnnouncementSnapshot},
	{"SnapshotAnnounce", testSnapshotAnnounce},
	{"MailingWait", testMailingWait},
	{"RecordEdited", testRecordEdited},
	{"OutcomeNotTried", testOutcomeNotTried},
	{"HardBounceSuppresses", testHardBounceSuppresses},
	{"HardBounceDropsQueuedDeliveries", testHardBounceDropsQueuedDeliveries},
	{"SoftBounces", testSoftBounces},
	{"SoftBounceWindow", testSoftBounceWindow},
	{"Complaint", testComplaint},
	{"BounceNoChange", testBounceNoChange},
	{"ConfirmClearsSuppression", testConfirmClearsSuppression},
	{"BounceRates", testBounceRates},
}

func testMeta(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)

	_, err := db.Meta(ctx, "missing")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Meta(missing) = %v, want store.ErrNotFound", err)
	}
	if want := `store: meta "missing": not found`; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	for _, v := range []string{"one", "", "three ü\nlines"} {
		if err := db.SetMeta(ctx, "key", v); err != nil {
			t.Fatal(err)
		}
		got, err := db.Meta(ctx, "key")
		if err != nil || got != v {
			t.Errorf("Meta(key) = %q, %v; want %q", got, err, v)
		}
	}
	if v, err := db.SchemaVersion(ctx); err != nil || v < 1 {
		t.Errorf("SchemaVersion = %d, %v; want >= 1", v, err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
