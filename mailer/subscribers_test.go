package mailer

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"herald/schedule/store"
	"herald/schedule/store/sqlite"
)

func TestParseAddress(t *testing.T) {
	long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".com"
	tests := []struct {
		in, email, name string
		ok              bool
	}{
		{"ann@example.com", "ann@example.com", "", true},
		{"  Ann@Example.COM ", "Ann@example.com", "", true}, // the domain lower-cased, the local part kept
		{"ALICE@Example.org", "ALICE@example.org", "", true},
		{"ann@Bücher.Example", "ann@xn--bcher-kva.example", "", true}, // IDNA
		{"ann@xn--bcher-kva.example", "ann@xn--bcher-kva.example", "", true},
		{"ann@ｅｘａｍｐｌｅ.com", "ann@example.com", "", true}, // full-width letters map
		{"ann@exa_mple.com", "", "", false},
		{"ann@-example.com", "", "", false},
		{"ann@example.com.", "", "", false},
		{"Ann Smith <ann@example.com>", "ann@example.com", "Ann Smith", true},
		{`"Smith, Ann" <ann@example.com>`, "ann@example.com", "Smith, Ann", true},
		{"a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk", "", true},
		{"", "", "", false},
		{"not an address", "", "", false},
		{"ann@", "", "", false},
		{"@example.com", "", "", false},
		{"root@localhost", "", "", false},
		{"ann@example..com", "", "", false},
		{"ann@example.com\r\nBcc: x@example.com", "", "", false},
		{"ann@example.com\nx", "", "", false},
		{"jörg@example.com", "", "", false},
		{"a@b.com, c@d.com", "", "", false},
		{long, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			email, name, err := ParseAddress(tt.in)
			if (err == nil) != tt.ok || email != tt.email || name != tt.name {
				t.Errorf("ParseAddress(%q) = %q, %q, %v; want %q, %q, ok=%v", tt.in, email, name, err, tt.email, tt.name, tt.ok)
			}
		})
	}
}

func openStateDB(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	db := openStateDB(t)
	now := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	if _, _, err := db.AddSubscriber(ctx, now, "known@example.com", "", store.StatusUnsubscribed, store.SourceWeb); err != nil {
		t.Fatal(err)
	}
	in := strings.Join([]string{
		"Email,Name",                     // 1 header
		"ann@example.com,Ann",            // 2
		"not-an-address,Bad",             // 3 bad
		"",                               // 4 blank
		"Bob <bob@example.org>",          // 5 name from the address
		`"carol@example.net","Carol, C"`, // 6 quoted
		"KNOWN@example.com,Again",        // 7 existing (case differs): untouched
		"known@EXAMPLE.com,Again",        // 8 existing (domain case): untouched
		"dave@localhost",                 // 9 bad
		"ann@example.com",                // 10 duplicate in the file
		"",
	}, "\n")
	res, err := Import(ctx, db, strings.NewReader(in), now, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 3 || res.Existing != 3 {
		t.Errorf("Import = added %d, existing %d; want 3, 3", res.Added, res.Existing)
	}
	var lines []int
	for _, b := range res.Bad {
		lines = append(lines, b.Line)
		if !strings.HasPrefix(b.Error(), fmt.Sprintf("line %d: ", b.Line)) {
			t.Errorf("bad row error %q does not start with its line", b.Error())
		}
	}
	if !slices.Equal(lines, []int{3, 9}) {
		t.Errorf("bad rows at lines %v, want [3 9]", lines)
	}
	for addr, want := range map[string]store.Subscriber{
		"ann@example.com":   {Name: "Ann", Status: store.StatusConfirmed, Source: store.SourceImport},
		"bob@example.org":   {Name: "Bob", Status: store.StatusConfirmed, Source: store.SourceImport},
		"carol@example.net": {Name: "Carol, C", Status: store.StatusConfirmed, Source: store.SourceImport},
		"known@example.com": {Name: "", Status: store.StatusUnsubscribed, Source: store.SourceWeb},
	} {
		s, err := db.Subscriber(ctx, addr)
		if err != nil || s.Name != want.Name || s.Status != want.Status || s.Source != want.Source {
			t.Errorf("%s = %+v, %v; want %+v", addr, s, err, want)
		}
	}

	// -pending; no header row.
	res, err = Import(ctx, db, strings.NewReader("erin@example.com\n"), now, true)
	if err != nil || res.Added != 1 {
		t.Fatalf("Import pending = %+v, %v", res, err)
	}
	if s, _ := db.Subscriber(ctx, "erin@example.com"); s.Status != store.StatusPending {
		t.Errorf("erin status = %s, want pending", s.Status)
	}
}

// TestImportRejectsEveryBadRow: each row not imported is reported with its
// own line; an unterminated quote spoils only its line, extra fields are an
// error unless a header names them.
func TestImportRejectsEveryBadRow(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		in        string
		wantAdded []string
		wantBad   map[int]string // line → part of its error
	}{
		{
			name:      "unterminated quote",
			in:        "ann@example.com\n\"bob@example.com,Bob\ncarol@example.com,Carol\n",
			wantAdded: []string{"ann@example.com", "carol@example.com"},
			wantBad:   map[int]string{2: "quote"},
		},
		{
			name:      "extra field without a header",
			in:        "dave@example.org,Dave,extra\nerin@example.org,Erin\n",
			wantAdded: []string{"erin@example.org"},
			wantBad:   map[int]string{1: "3 fields"},
		},
		{
			name:      "header names more columns",
			in:        "email,name,source,city\nfay@example.org,Fay,cli,Oslo\ngus@example.org,Gus,cli,Rome,extra\n",
			wantAdded: []string{"fay@example.org"},
			wantBad:   map[int]string{3: "5 fields, the header names 4"},
		},
		{
			name:      "BOM, CRLF, long line",
			in:        "\ufeffhal@example.org,Hal\r\n" + strings.Repeat("x", 5000) + "@example.org\r\nivy@example.org\r\n",
			wantAdded: []string{"hal@example.org", "ivy@example.org"},
			wantBad:   map[int]string{2: "longer than"},
		},
		{
			name:      "bare quote in a field",
			in:        "jo\"e@example.org,Joe\nkim@example.org",
			wantAdded: []string{"kim@example.org"},
			wantBad:   map[int]string{1: "quote"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openStateDB(t)
			res, err := Import(ctx, db, strings.NewReader(tt.in), now, false)
			if err != nil {
				t.Fatal(err)
			}
			var added []string
			db.EachSubscriber(ctx, "", func(s store.Subscriber) error { added = append(added, s.Email); return nil })
			if !slices.Equal(added, tt.wantAdded) || res.Added != len(tt.wantAdded) {
				t.Errorf("imported %q (Added %d), want %q", added, res.Added, tt.wantAdded)
			}
			if len(res.Bad) != len(tt.wantBad) {
				t.Errorf("bad rows %v, want lines %v", res.Bad, tt.wantBad)
			}
			for _, b := range res.Bad {
				if want, ok := tt.wantBad[b.Line]; !ok || !strings.Contains(b.Error(), want) {
					t.Errorf("bad row %q; want lines %v", b.Error(), tt.wantBad)
				}
			}
		})
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := openStateDB(t)
	now := time.Date(2024, 2, 1, 10, 0, 0, 0, time.UTC)
	for _, s := range []struct {
		email, name string
		status      store.SubscriberStatus
	}{
		{"a@example.com", "Ann, \"A\"", store.StatusConfirmed},
		{"b@example.com", "", store.StatusPending},
		{"c@example.com", "Cee", store.StatusUnsubscribed},
	} {
		if _, _, err := src.AddSubscriber(ctx, now, s.email, s.name, s.status, store.SourceCLI); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := Export(ctx, src, &buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v\n%s", err, buf.String())
	}
	want := [][]string{
		{"email", "name", "status", "source", "created_at", "confirmed_at", "unsubscribed_at"},
		{"a@example.com", "Ann, \"A\"", "confirmed", "cli", "2024-02-01T10:00:00Z", "2024-02-01T10:00:00Z", ""},
		{"b@example.com", "", "pending", "cli", "2024-02-01T10:00:00Z", "", ""},
		{"c@example.com", "Cee", "unsubscribed", "cli", "2024-02-01T10:00:00Z", "", "2024-02-01T10:00:00Z"},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("export =\n%v\nwant\n%v", rows, want)
	}

	dst := openStateDB(t)
	res, err := Import(ctx, dst, bytes.NewReader(buf.Bytes()), now, false)
	if err != nil || res.Added != 3 || len(res.Bad) != 0 {
		t.Fatalf("re-import = %+v, %v", res, err)
	}
	for _, w := range want[1:] {
		s, err := dst.Subscriber(ctx, w[0])
		if err != nil || s.Name != w[1] || string(s.Status) != w[2] {
			t.Errorf("re-imported %s = %+v, %v; want name %q status %s", w[0], s, err, w[1], w[2])
		}
	}
}
