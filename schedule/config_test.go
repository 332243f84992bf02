package schedule

import (
	"strings"
	"testing"
	"time"

	"herald/feed"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string // "" = valid
	}{
		{"default", Default(), ""},
		{"five fields", Config{Cron: "*/5 * * * *"}, ""},
		{"descriptor", Config{Cron: "@hourly"}, ""},
		{"zone prefix", Config{Cron: "CRON_TZ=Europe/Berlin 0 9 * * *"}, ""},
		{"TZ prefix", Config{Cron: "TZ=UTC @daily"}, ""},
		{"digest", Config{Cron: "@every 1m", Digest: "0 9 * * 1"}, ""},
		{"empty cron", Config{Cron: " "}, "schedule.cron: must not be empty"},
		{"zone alone (panics in cron v3.0.1)", Config{Cron: "CRON_TZ=UTC"}, "schedule.cron: "},
		{"TZ alone", Config{Cron: "TZ=Europe/Berlin"}, "schedule.cron: "},
		{"empty zone", Config{Cron: "CRON_TZ= 0 9 * * *"}, "schedule.cron: "},
		{"unknown zone", Config{Cron: "CRON_TZ=Mars/Olympus 0 9 * * *"}, "schedule.cron: "},
		{"never fires", Config{Cron: "0 0 30 2 *"}, "never fires"},
		{"four fields", Config{Cron: "* * * *"}, "schedule.cron: "},
		{"six fields", Config{Cron: "0 * * * * *"}, "schedule.cron: "},
		{"garbage", Config{Cron: "every minute"}, "schedule.cron: "},
		{"sub-second every", Config{Cron: "@every 100ms"}, "at least 1s"},
		{"negative every", Config{Cron: "@every -1m"}, "at least 1s"},
		{"bad digest", Config{Cron: "@every 1m", Digest: "CRON_TZ=UTC"}, "schedule.digest: "},
		{"digest never fires", Config{Cron: "@every 1m", Digest: "0 0 31 4 *"}, "schedule.digest: "},
		{"negative scan grace", Config{Cron: "@every 1m", ScanGrace: feed.Duration{Duration: -time.Second}}, "schedule.scan_grace: must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("Validate() = nil, want an error containing %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("Validate() = %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestNextRun(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec  string
		after time.Time
		want  time.Time
	}{
		{"@every 1m", time.Date(2024, 1, 1, 10, 0, 30, 0, time.UTC), time.Date(2024, 1, 1, 10, 1, 30, 0, time.UTC)},
		// Without CRON_TZ the spec is read in after's zone (the daemon passes the site's).
		{"0 9 * * *", time.Date(2024, 3, 30, 10, 0, 0, 0, berlin), time.Date(2024, 3, 31, 9, 0, 0, 0, berlin)},
		{"CRON_TZ=UTC 0 9 * * *", time.Date(2024, 3, 30, 10, 0, 0, 0, berlin), time.Date(2024, 3, 31, 9, 0, 0, 0, time.UTC)},
		// The skipped hour: a 02:30 job does not run on the night summer time starts.
		{"30 2 * * *", time.Date(2024, 3, 30, 12, 0, 0, 0, berlin), time.Date(2024, 4, 1, 2, 30, 0, 0, berlin)},
	} {
		got, err := NextRun(tc.spec, tc.after)
		if err != nil {
			t.Errorf("NextRun(%q) error %v", tc.spec, err)
			continue
		}
		if !got.Equal(tc.want) {
			t.Errorf("NextRun(%q, %v) = %v, want %v", tc.spec, tc.after, got, tc.want)
		}
	}
	if _, err := NextRun("0 0 30 2 *", time.Now()); err == nil {
		t.Error("NextRun of a spec that never fires: no error")
	}
	if _, err := NextRun("CRON_TZ=UTC", time.Now()); err == nil {
		t.Error("NextRun(CRON_TZ=UTC): no error")
	}
}
