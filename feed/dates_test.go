package feed

import (
	"strings"
	"testing"
	"time"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestParsePostDate(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	saoPaulo := mustLoc(t, "America/Sao_Paulo")
	tests := []struct {
		in      string
		loc     *time.Location
		want    string // RFC 3339 in UTC
		wantGap bool
	}{
		{"2023-10-06 04:00:00", time.UTC, "2023-10-06T04:00:00Z", false},
		{"2023-10-06 04:00:00", berlin, "2023-10-06T02:00:00Z", false},
		{"2023-10-06 04:00:00", saoPaulo, "2023-10-06T07:00:00Z", false},
		{"2023-10-06 04:00:00 +0200", saoPaulo, "2023-10-06T02:00:00Z", false},
		{"2023-10-06 04:00:00 -05:00", berlin, "2023-10-06T09:00:00Z", false},
		{"2023-10-06 04:00:00+02:00", time.UTC, "2023-10-06T02:00:00Z", false},
		{"2023-10-06 04:00:00 -5", time.UTC, "2023-10-06T09:00:00Z", false},
		{"2023-10-06 04:00:00 Z", berlin, "2023-10-06T04:00:00Z", false},
		{"2023-10-06 04:00:00 UTC", berlin, "2023-10-06T04:00:00Z", false},
		{"2023-10-06 04:00", berlin, "2023-10-06T02:00:00Z", false},
		{"2023-10-06 4:05", time.UTC, "2023-10-06T04:05:00Z", false},
		{"2023-10-06 04:00 +0100", time.UTC, "2023-10-06T03:00:00Z", false},
		{"2023-10-06", berlin, "2023-10-05T22:00:00Z", false},
		{"2023-1-6", time.UTC, "2023-01-06T00:00:00Z", false},
		{"  2023-10-06  ", time.UTC, "2023-10-06T00:00:00Z", false},
		{"2023-10-06T04:00:00Z", berlin, "2023-10-06T04:00:00Z", false},
		{"2023-10-06t04:00:00z", berlin, "2023-10-06T04:00:00Z", false},
		{"2023-10-06T04:00:00+02:00", time.UTC, "2023-10-06T02:00:00Z", false},
		{"2023-10-06T04:00:00", berlin, "2023-10-06T02:00:00Z", false},
		{"2023-10-06 04:00:00.5 +00:00", time.UTC, "2023-10-06T04:00:00.5Z", false},
		{"2024-02-29", time.UTC, "2024-02-29T00:00:00Z", false},
		// Summer time starts in Berlin on 2024-03-31 at 02:00: 02:30 does
		// not exist and is read as 03:30 CEST, with gap reported.
		{"2024-03-31 02:30:00", berlin, "2024-03-31T01:30:00Z", true},
		{"2024-03-31 02:30:00 +0100", berlin, "2024-03-31T01:30:00Z", false},
		{"2024-03-31 01:59:59", berlin, "2024-03-31T00:59:59Z", false},
		{"2024-03-31 03:00:00", berlin, "2024-03-31T01:00:00Z", false},
		// Summer time ends on 2024-10-27 at 03:00: 02:30 happens twice;
		// the later one (CET) is taken.
		{"2024-10-27 02:30:00", berlin, "2024-10-27T01:30:00Z", false},
	}
	for _, tt := range tests {
		t.Run(tt.in+" "+tt.loc.String(), func(t *testing.T) {
			got, gap, err := parsePostDate(tt.in, tt.loc)
			if err != nil {
				t.Fatalf("parsePostDate(%q) error: %v", tt.in, err)
			}
			if s := got.UTC().Format(time.RFC3339Nano); s != tt.want {
				t.Errorf("parsePostDate(%q) = %s, want %s", tt.in, s, tt.want)
			}
			if got.Location() != tt.loc {
				t.Errorf("location = %v, want %v", got.Location(), tt.loc)
			}
			if gap != tt.wantGap {
				t.Errorf("gap = %v, want %v", gap, tt.wantGap)
			}
		})
	}
}

func TestParsePostDateErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "bad date"},
		{"yesterday", "bad date"},
		{"2023/10/06", "bad date"},
		{"06-10-2023", "bad date"},
		{"2023-13-01", "month 13 out of range"},
		{"2023-02-29", "day 29 out of range for 2023-02"},
		{"2023-04-31", "day 31 out of range"},
		{"2023-10-06 25:00", "time 25:00:00 out of range"},
		{"2023-10-06 04:61", "out of range"},
		{"2023-10-06 04", "bad date"},
		{"2023-10-06 04:00:00 +2500", "offset +2500 out of range"},
		{"2023-10-06 04:00:00 CEST", "bad date"},
		{"2023-10-06 04:00:00 +02:00 extra", "bad date"},
		{"2023-10-06x", "bad date"},
		{"20231006", "bad date"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, _, err := parsePostDate(tt.in, time.UTC)
			if err == nil {
				t.Fatalf("parsePostDate(%q) = nil error", tt.in)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "use a form like") {
				t.Errorf("error = %q, want it to contain %q and a hint", err, tt.want)
			}
		})
	}
}
