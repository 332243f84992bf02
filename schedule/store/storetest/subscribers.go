package storetest

import (
	"context"
	"errors"
	"fmt"
	"herald/schedule/store"
	"slices"
	"testing"
	"time"
)

// addSub adds a subscriber and fails the test on error.
func addSub(t testing.TB, db store.Store, now time.Time, email string, status store.SubscriberStatus) store.Subscriber {
	t.Helper()
	s, _, err := db.AddSubscriber(context.Background(), now, email, "", status, store.SourceCLI)
	if err != nil {
		t.Fatalf("AddSubscriber(%s): %v", email, err)
	}
	return s
}

func testEmailKey(t *testing.T, bk Backend) {
	tests := []struct{ in, want string }{
		{"Ann@Example.COM", "ann@example.com"},
		{"ann@example.com", "ann@example.com"},
		{"ALICE@Example.org", "alice@example.org"},
		{" a.B+c@Sub.Example.org ", "a.b+c@sub.example.org"},
		{`"We@ird"@EXAMPLE.com`, `"we@ird"@example.com`},
		{"no-at-sign", "no-at-sign"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := store.EmailKey(tt.in); got != tt.want {
				t.Errorf("EmailKey(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func testAddSubscriber(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)

	s, created, err := db.AddSubscriber(ctx, t0, "Ann@Example.com", "Ann", store.StatusConfirmed, store.SourceCLI)
	if err != nil || !created {
		t.Fatalf("AddSubscriber = %v, %v; want created", created, err)
	}
	want := store.Subscriber{ID: s.ID, Email: "Ann@Example.com", Name: "Ann", Status: store.StatusConfirmed,
		Source: store.SourceCLI, CreatedAt: t0, ConfirmedAt: t0}
	if s != want {
		t.Errorf("AddSubscriber = %+v, want %+v", s, want)
	}

	// The whole address is case-insensitive: the same subscriber,
	// unchanged, whichever part differs in case.
	for _, other := range []string{"Ann@EXAMPLE.COM", "ann@example.com", "ANN@example.com"} {
		again, created, err := db.AddSubscriber(ctx, t0.Add(time.Hour), other, "Other", store.StatusPending, store.SourceImport)
		if err != nil || created {
			t.Fatalf("AddSubscriber(%s) = %v, %v; want not created", other, created, err)
		}
		if again != want {
			t.Errorf("AddSubscriber(%s) = %+v, want the existing %+v", other, again, want)
		}
	}
	created2, err := db.AddSubscribers(ctx, t0, []store.NewSubscriber{
		{Email: "aNN@example.COM", Status: store.StatusConfirmed, Source: store.SourceImport},
		{Email: "Zed@example.com", Status: store.StatusConfirmed, Source: store.SourceImport},
		{Email: "zED@example.com", Status: store.StatusConfirmed, Source: store.SourceImport},
	})
	if err != nil || !slices.Equal(created2, []bool{false, true, false}) {
		t.Errorf("AddSubscribers = %v, %v; want [false true false]", created2, err)
	}
	if c, _ := db.CountSubscribers(ctx); c.Total() != 2 {
		t.Errorf("%d subscribers, want 2 (ann, zed)", c.Total())
	}

	for _, bad := range []struct {
		email  string
		status store.SubscriberStatus
		source store.SubscriberSource
	}{
		{"no-at", store.StatusConfirmed, store.SourceCLI},
		{"x@example.com", "active", store.SourceCLI},
		{"x@example.com", store.StatusConfirmed, "api"},
	} {
		if _, _, err := db.AddSubscriber(ctx, t0, bad.email, "", bad.status, bad.source); err == nil {
			t.Errorf("AddSubscriber(%q, %q, %q): no error", bad.email, bad.status, bad.source)
		}
	}
}

func testAddSubscriberNeverResubscribes(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	s := addSub(t, db, t0, "gone@example.com", store.StatusConfirmed)
	if _, err := db.SetSubscriberStatus(ctx, t0.Add(time.Hour), s.ID, store.StatusUnsubscribed); err != nil {
		t.Fatal(err)
	}
	got, created, err := db.AddSubscriber(ctx, t0.Add(2*time.Hour), "gone@example.com", "", store.StatusConfirmed, store.SourceImport)
	if err != nil || created {
		t.Fatalf("AddSubscriber = %v, %v", created, err)
	}
	if got.Status != store.StatusUnsubscribed {
		t.Errorf("status after re-import = %s, want unsubscribed", got.Status)
	}
}

func testSubscriberLookup(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	s := addSub(t, db, t0, "bob@Example.org", store.StatusPending)

	got, err := db.Subscriber(ctx, "bob@example.ORG")
	if err != nil || got.ID != s.ID {
		t.Errorf("Subscriber = %+v, %v; want #%d", got, err, s.ID)
	}
	if got, err := db.SubscriberByID(ctx, s.ID); err != nil || got != s {
		t.Errorf("SubscriberByID = %+v, %v; want %+v", got, err, s)
	}
	if got, err := db.Subscriber(ctx, "BOB@example.org"); err != nil || got.ID != s.ID {
		t.Errorf("Subscriber(upper-case local part) = %+v, %v; want #%d", got, err, s.ID)
	}
	if _, err := db.Subscriber(ctx, "rob@example.org"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Subscriber(other address) error = %v, want store.ErrNotFound", err)
	}
	if _, err := db.SubscriberByID(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SubscriberByID(999) error = %v, want store.ErrNotFound", err)
	}
}

func testSetSubscriberStatus(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	s := addSub(t, db, t0, "c@example.com", store.StatusPending)

	steps := []struct {
		at          time.Time
		status      store.SubscriberStatus
		wantChanged bool
		wantConf    time.Time
		wantUnsub   time.Time
	}{
		{t0.Add(1 * time.Hour), store.StatusConfirmed, true, t0.Add(time.Hour), time.Time{}},
		{t0.Add(2 * time.Hour), store.StatusConfirmed, false, t0.Add(time.Hour), time.Time{}},
		{t0.Add(3 * time.Hour), store.StatusUnsubscribed, true, t0.Add(time.Hour), t0.Add(3 * time.Hour)},
		{t0.Add(4 * time.Hour), store.StatusConfirmed, true, t0.Add(4 * time.Hour), t0.Add(3 * time.Hour)},
		{t0.Add(5 * time.Hour), store.StatusPending, true, t0.Add(4 * time.Hour), t0.Add(3 * time.Hour)},
	}
	for i, st := range steps {
		changed, err := db.SetSubscriberStatus(ctx, st.at, s.ID, st.status)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got, _ := db.SubscriberByID(ctx, s.ID)
		if changed != st.wantChanged || got.Status != st.status || !got.ConfirmedAt.Equal(st.wantConf) || !got.UnsubscribedAt.Equal(st.wantUnsub) {
			t.Errorf("step %d (%s): changed=%v status=%s confirmed=%v unsubscribed=%v; want %v %s %v %v",
				i, st.status, changed, got.Status, got.ConfirmedAt, got.UnsubscribedAt,
				st.wantChanged, st.status, st.wantConf, st.wantUnsub)
		}
	}
	if _, err := db.SetSubscriberStatus(ctx, t0, 999, store.StatusConfirmed); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetSubscriberStatus(999) error = %v, want store.ErrNotFound", err)
	}
	if _, err := db.SetSubscriberStatus(ctx, t0, s.ID, "gone"); err == nil {
		t.Errorf("SetSubscriberStatus(invalid): no error")
	}
}

func testForgetSubscriber(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	d := addSub(t, db, t0, "D@example.com", store.StatusConfirmed)
	addSub(t, db, t0, "e@example.com", store.StatusConfirmed)
	// d's first mailing failed (the error quotes the address), e's was
	// sent; a second mailing waits for both.
	announce(t, db, t0.Add(time.Minute), "p1")
	ids := createMailings(t, db, t0.Add(time.Minute), false)
	expand(t, db, t0.Add(time.Minute), ids[0], 2)
	for _, dl := range claim(t, db, t0.Add(2*time.Minute), 10) {
		o := store.Outcome{ID: dl.ID, State: store.DeliverySent}
		if dl.SubscriberID == d.ID {
			o = store.Outcome{ID: dl.ID, State: store.DeliveryFailed, Code: 550, Text: "550 5.1.1 <D@example.com>: mailbox unknown"}
		}
		recordAs(t, db, t0.Add(2*time.Minute), worker.Owner, 1, o)
	}
	announce(t, db, t0.Add(time.Hour), "p2")
	ids = createMailings(t, db, t0.Add(time.Hour), false)
	expand(t, db, t0.Add(time.Hour), ids[0], 2)

	if err := db.ForgetSubscriber(ctx, t0.Add(2*time.Hour), "d@EXAMPLE.com"); err != nil {
		t.Fatalf("ForgetSubscriber: %v", err)
	}
	if _, err := db.Subscriber(ctx, "d@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after forget: Subscriber error = %v, want store.ErrNotFound", err)
	}
	if _, err := db.SubscriberByID(ctx, d.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after forget: SubscriberByID error = %v, want store.ErrNotFound", err)
	}
	var listed []string
	db.EachSubscriber(ctx, "", func(s store.Subscriber) error { listed = append(listed, s.Email); return nil })
	if !slices.Equal(listed, []string{"e@example.com"}) {
		t.Errorf("after forget EachSubscriber lists %q, want only e@example.com", listed)
	}
	if c, _ := db.CountSubscribers(ctx); c != (store.SubscriberCounts{Confirmed: 1}) {
		t.Errorf("after forget CountSubscribers = %+v, want one confirmed", c)
	}
	// The anonymous counts stay: p1 sent 1, failed 1; d's waiting delivery
	// of p2 is gone, e's waits.
	if c := countDeliveries(t, db); c != (store.DeliveryCounts{Sent: 1, Failed: 1, Pending: 1}) {
		t.Errorf("after forget deliveries %+v, want sent 1, failed 1, pending 1", c)
	}
	if fs, _ := db.FailedDeliveries(ctx, 0); len(fs) != 0 {
		t.Errorf("after forget FailedDeliveries lists %+v", fs)
	}
	// The address can come back, as someone new.
	again, created, err := db.AddSubscriber(ctx, t0.Add(3*time.Hour), "d@example.com", "", store.StatusConfirmed, store.SourceCLI)
	if err != nil || !created || again.ID == d.ID {
		t.Errorf("re-adding a forgotten address = %+v, %v, %v; want a new subscriber", again, created, err)
	}
	if err := db.ForgetSubscriber(ctx, t0, "nobody@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ForgetSubscriber(unknown) error = %v, want store.ErrNotFound", err)
	}
}

func testEachSubscriberAndCount(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	const n = 2*500 + 7 // three batches of the backends' 500, the last one partial
	want := map[store.SubscriberStatus]int{}
	for i := range n {
		st := []store.SubscriberStatus{store.StatusConfirmed, store.StatusConfirmed, store.StatusPending, store.StatusUnsubscribed}[i%4]
		addSub(t, db, t0, fmt.Sprintf("u%04d@example.com", i), st)
		want[st]++
	}
	for _, st := range []store.SubscriberStatus{"", store.StatusConfirmed, store.StatusPending, store.StatusUnsubscribed} {
		t.Run(string(st), func(t *testing.T) {
			var got int
			var last int64
			err := db.EachSubscriber(ctx, st, func(s store.Subscriber) error {
				if s.ID <= last {
					t.Fatalf("ids not increasing: %d after %d", s.ID, last)
				}
				if st != "" && s.Status != st {
					t.Fatalf("got %s subscriber %s", s.Status, s.Email)
				}
				last = s.ID
				got++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			w := want[st]
			if st == "" {
				w = n
			}
			if got != w {
				t.Errorf("EachSubscriber(%q) visited %d, want %d", st, got, w)
			}
		})
	}
	stop := errors.New("stop")
	var visited int
	err := db.EachSubscriber(ctx, "", func(store.Subscriber) error {
		visited++
		if visited == 3 {
			return stop
		}
		return nil
	})
	if err != stop || visited != 3 {
		t.Errorf("EachSubscriber with fn error = %v after %d, want stop after 3", err, visited)
	}
	if err := db.EachSubscriber(ctx, "bogus", func(store.Subscriber) error { return nil }); err == nil {
		t.Errorf("EachSubscriber(bogus): no error")
	}

	c, err := db.CountSubscribers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wc := store.SubscriberCounts{Pending: want[store.StatusPending], Confirmed: want[store.StatusConfirmed], Unsubscribed: want[store.StatusUnsubscribed]}
	if c != wc || c.Total() != n {
		t.Errorf("CountSubscribers = %+v, want %+v (total %d)", c, wc, n)
	}
}

// EachSubscriber holds no read transaction while fn runs: fn can write.
func testEachSubscriberFnWrites(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	for i := range 500 + 3 {
		addSub(t, db, t0, fmt.Sprintf("w%04d@example.com", i), store.StatusPending)
	}
	err := db.EachSubscriber(ctx, store.StatusPending, func(s store.Subscriber) error {
		_, err := db.SetSubscriberStatus(ctx, t0.Add(time.Hour), s.ID, store.StatusConfirmed)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := db.CountSubscribers(ctx); c.Confirmed != 500+3 {
		t.Errorf("confirmed = %d, want %d", c.Confirmed, 500+3)
	}
}

func testInitMeta(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	v, err := db.InitMeta(ctx, "token_secret", "first")
	if err != nil || v != "first" {
		t.Fatalf("InitMeta = %q, %v; want first", v, err)
	}
	v, err = db.InitMeta(ctx, "token_secret", "second")
	if err != nil || v != "first" {
		t.Errorf("second InitMeta = %q, %v; want the stored first", v, err)
	}
}

func testAddSubscribers(t *testing.T, bk Backend) {
	ctx := context.Background()
	db := bk.fresh(t)
	addSub(t, db, t0, "old@example.com", store.StatusUnsubscribed)
	created, err := db.AddSubscribers(ctx, t0.Add(time.Hour), []store.NewSubscriber{
		{Email: "a@example.com", Name: "A", Status: store.StatusConfirmed, Source: store.SourceImport},
		{Email: "old@EXAMPLE.com", Status: store.StatusConfirmed, Source: store.SourceImport},
		{Email: "p@example.com", Status: store.StatusPending, Source: store.SourceImport},
		{Email: "a@Example.com", Status: store.StatusConfirmed, Source: store.SourceImport}, // same as the first
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, true, false}; fmt.Sprint(created) != fmt.Sprint(want) {
		t.Errorf("created = %v, want %v", created, want)
	}
	a, _ := db.Subscriber(ctx, "a@example.com")
	if a.Name != "A" || a.Status != store.StatusConfirmed || !a.ConfirmedAt.Equal(t0.Add(time.Hour)) || a.Source != store.SourceImport {
		t.Errorf("a = %+v", a)
	}
	if old, _ := db.Subscriber(ctx, "old@example.com"); old.Status != store.StatusUnsubscribed {
		t.Errorf("old status = %s, want unsubscribed (untouched)", old.Status)
	}
	if p, _ := db.Subscriber(ctx, "p@example.com"); p.Status != store.StatusPending || !p.ConfirmedAt.IsZero() {
		t.Errorf("p = %+v", p)
	}
	if _, err := db.AddSubscribers(ctx, t0, []store.NewSubscriber{{Email: "x@example.com", Status: "bogus", Source: store.SourceCLI}}); err == nil {
		t.Errorf("AddSubscribers with a bad status: no error")
	}
	if c, _ := db.CountSubscribers(ctx); c.Total() != 3 {
		t.Errorf("total = %d, want 3", c.Total())
	}
}
