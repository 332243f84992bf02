package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"herald/feed"
)

// Config is the [schedule] section of config.toml.
type Config struct {
	// Cron says when to scan the posts folder, in robfig/cron syntax: five
	// fields ("*/5 * * * *"), a descriptor ("@hourly", "@every 1m"), with an
	// optional "CRON_TZ=Zone " prefix. A spec without a zone runs in the
	// site's time zone.
	Cron string `toml:"cron"`
	// Digest is "" for one email per post, or a cron spec (same syntax as
	// Cron) at which one digest email of the period's posts is sent.
	Digest string `toml:"digest"`
	// ScanGrace: a scan running longer than this makes /healthz answer
	// 503 and stops the systemd watchdog pings (default 5m).
	ScanGrace feed.Duration `toml:"scan_grace"`
	// MailGrace: a mail worker paused for longer than this (mail server
	// unreachable, ledger unwritable) makes /healthz answer 503 (default
	// 10m; 0: at once).
	MailGrace feed.Duration `toml:"mail_grace"`
}

// Default returns the default [schedule] section: a scan every minute, one
// email per post.
func Default() Config {
	return Config{Cron: "@every 1m", ScanGrace: feed.Duration{Duration: DefaultScanGrace},
		MailGrace: feed.Duration{Duration: DefaultMailGrace}}
}

// Validate checks both specs: they must parse and fire at least once in the
// next five years. Messages name the key ("schedule.cron: …").
func (c *Config) Validate() error {
	c.Cron = strings.TrimSpace(c.Cron)
	c.Digest = strings.TrimSpace(c.Digest)
	if c.Cron == "" {
		return errors.New(`schedule.cron: must not be empty (default "@every 1m")`)
	}
	if c.ScanGrace.Duration < 0 {
		return fmt.Errorf("schedule.scan_grace: must not be negative, got %s", c.ScanGrace.Duration)
	}
	if c.MailGrace.Duration < 0 {
		return fmt.Errorf("schedule.mail_grace: must not be negative, got %s", c.MailGrace.Duration)
	}
	if _, err := parseSpec(c.Cron); err != nil {
		return fmt.Errorf("schedule.cron: %w", err)
	}
	if c.Digest != "" {
		if _, err := parseSpec(c.Digest); err != nil {
			return fmt.Errorf("schedule.digest: %w", err)
		}
	}
	return nil
}

// NextRun returns the first time after after at which spec fires. A spec
// without a CRON_TZ= prefix is read in after's location. It returns an
// error for a spec that does not parse or never fires.
func NextRun(spec string, after time.Time) (time.Time, error) {
	s, err := parseSpec(strings.TrimSpace(spec))
	if err != nil {
		return time.Time{}, fmt.Errorf("schedule: %w", err)
	}
	next := s.next(after)
	if next.IsZero() {
		return time.Time{}, fmt.Errorf("schedule: spec %q never fires after %s", spec, after.Format(time.RFC3339))
	}
	return next, nil
}

// spec is a parsed cron specification. It wraps cron.Schedule so that no
// cron type leaves this package.
type spec struct {
	text  string
	sched cron.Schedule
}

// next returns the first activation after t, or the zero time when the
// spec never fires again (robfig's parser searches five years ahead).
func (s spec) next(t time.Time) time.Time { return s.sched.Next(t) }

// parseSpec parses text and checks that it fires. robfig/cron v3.0.1
// panics on a zone prefix with nothing after it ("CRON_TZ=UTC"): that form
// is rejected before parsing, and any other panic is recovered.
func parseSpec(text string) (s spec, err error) {
	if text == "" {
		return spec{}, errors.New("empty cron spec")
	}
	if strings.HasPrefix(text, "TZ=") || strings.HasPrefix(text, "CRON_TZ=") {
		zone, rest, ok := strings.Cut(text, " ")
		if !ok || strings.TrimSpace(rest) == "" {
			return spec{}, fmt.Errorf("%q: a %s prefix must be followed by a space and a schedule, as in \"CRON_TZ=Europe/Berlin 0 9 * * *\"", text, zone)
		}
		if _, z, _ := strings.Cut(zone, "="); z == "" {
			return spec{}, fmt.Errorf("%q: empty time zone in %s", text, zone)
		}
	}
	if strings.HasPrefix(text, "@every") {
		// cron.Every silently turns anything under a second (also
		// negative durations) into one second: be explicit instead.
		d, perr := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(text, "@every")))
		if perr == nil && d < time.Second {
			return spec{}, fmt.Errorf("%q: the interval must be at least 1s", text)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = spec{}, fmt.Errorf("%q: invalid cron spec (%v)", text, r)
		}
	}()
	// The standard five fields, descriptors and a time zone prefix; no
	// seconds field (a scan every second is never wanted).
	parser := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	sched, perr := parser.Parse(text)
	if perr != nil {
		return spec{}, fmt.Errorf("%q: %w", text, perr)
	}
	s = spec{text: text, sched: sched}
	now := time.Now()
	if s.next(now).IsZero() {
		return spec{}, fmt.Errorf("%q never fires (no matching date in the next five years)", text)
	}
	return s, nil
}
