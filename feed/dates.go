package feed

import (
	"fmt"
	"strings"
	"time"
)

// dateForms is the hint appended to every bad-date message.
const dateForms = `use a form like "2023-10-06", "2023-10-06 04:00", "2023-10-06 04:00:00 +0200" or "2023-10-06T04:00:00Z"`

// parsePostDate parses a date as Jekyll accepts it in front matter and file
// names:
//
//	2023-10-06
//	2023-10-06 04:00            (seconds optional)
//	2023-10-06 04:00:00
//	2023-10-06 04:00:00.123     (fraction optional)
//	2023-10-06 04:00:00 +0200   (also -05:00, +02, Z, UTC, GMT; space optional)
//	2023-10-06T04:00:00Z        (RFC 3339; T or t)
//
// A date without an offset is a wall-clock time in loc. When that wall-clock
// time does not exist in loc (the hour skipped when summer time starts), the
// result is the instant Go's time.Date gives, which moves the clock forward
// by the gap (2024-03-31 02:30 in Europe/Berlin is 03:30 CEST), and gap
// reports it. A wall-clock time that occurs twice (the hour repeated when
// summer time ends) is the later occurrence, again as time.Date decides
// (2024-10-27 02:30 in Europe/Berlin is 02:30 CET). The result is in loc.
func parsePostDate(s string, loc *time.Location) (t time.Time, gap bool, err error) {
	p := dateScanner{s: strings.TrimSpace(s)}
	bad := func(why string) (time.Time, bool, error) {
		if why != "" {
			why += "; "
		}
		return time.Time{}, false, fmt.Errorf("bad date %q: %s%s", s, why, dateForms)
	}
	year, ok := p.digits(4, 4)
	if !ok || !p.byte('-') {
		return bad("")
	}
	month, ok := p.digits(1, 2)
	if !ok || !p.byte('-') {
		return bad("")
	}
	day, ok := p.digits(1, 2)
	if !ok {
		return bad("")
	}
	if month < 1 || month > 12 {
		return bad(fmt.Sprintf("month %d out of range", month))
	}
	if day < 1 || day > daysIn(year, time.Month(month)) {
		return bad(fmt.Sprintf("day %d out of range for %d-%02d", day, year, month))
	}
	var hour, minute, sec, nsec int
	zone := (*time.Location)(nil)
	if !p.done() {
		if !p.byte('T') && !p.byte('t') && !p.spaces() {
			return bad("")
		}
		if hour, ok = p.digits(1, 2); !ok || !p.byte(':') {
			return bad("")
		}
		if minute, ok = p.digits(2, 2); !ok {
			return bad("")
		}
		if p.byte(':') {
			if sec, ok = p.digits(2, 2); !ok {
				return bad("")
			}
			if p.byte('.') || p.byte(',') {
				start := p.i
				frac, ok := p.digits(1, 9)
				if !ok {
					return bad("")
				}
				for n := p.i - start; n < 9; n++ {
					frac *= 10
				}
				nsec = frac
			}
		}
		if hour > 23 || minute > 59 || sec > 59 {
			return bad(fmt.Sprintf("time %02d:%02d:%02d out of range", hour, minute, sec))
		}
		p.spaces()
		if oddOffset(p.s[p.i:]) {
			p.i = len(p.s) // Jekyll (Ruby's Time.parse) ignores it: a wall-clock time in loc
		}
		if !p.done() {
			z, why := p.zone()
			if z == nil {
				return bad(why)
			}
			zone = z
		}
	}
	if !p.done() {
		return bad("")
	}
	if zone != nil {
		return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, zone).In(loc), false, nil
	}
	t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc)
	gap = t.Hour() != hour || t.Minute() != minute || t.Day() != day
	return t, gap, nil
}

// oddOffset reports whether zone is an offset of three digits without a
// colon ("+530"), which Ruby's Time.parse, and so Jekyll, ignores.
func oddOffset(zone string) bool {
	return len(zone) == 4 && (zone[0] == '+' || zone[0] == '-') &&
		isDigit(zone[1]) && isDigit(zone[2]) && isDigit(zone[3])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// yamlTimestampNoZone reports whether s is a YAML 1.1 timestamp with a time
// of day and no zone ("2023-10-06 04:00:00"): Ruby's YAML reads such an
// unquoted value as UTC, and so does Jekyll.
func yamlTimestampNoZone(s string) bool {
	p := dateScanner{s: strings.TrimSpace(s)}
	if _, ok := p.digits(4, 4); !ok || !p.byte('-') {
		return false
	}
	if _, ok := p.digits(1, 2); !ok || !p.byte('-') {
		return false
	}
	if _, ok := p.digits(1, 2); !ok {
		return false
	}
	if !p.byte('T') && !p.byte('t') && !p.spaces() {
		return false
	}
	if _, ok := p.digits(1, 2); !ok || !p.byte(':') {
		return false
	}
	if _, ok := p.digits(2, 2); !ok || !p.byte(':') {
		return false
	}
	if _, ok := p.digits(2, 2); !ok {
		return false
	}
	if p.byte('.') {
		p.digits(0, 9)
	}
	return p.done()
}

// daysIn is the number of days in month m of year y.
func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// dateScanner is a cursor over a date string.
type dateScanner struct {
	s string
	i int
}

func (p *dateScanner) done() bool { return p.i >= len(p.s) }

// byte consumes c when it is next.
func (p *dateScanner) byte(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// spaces consumes spaces and tabs and reports whether there was any.
func (p *dateScanner) spaces() bool {
	start := p.i
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
	return p.i > start
}

// digits consumes between min and max ASCII digits.
func (p *dateScanner) digits(min, max int) (int, bool) {
	n, v := 0, 0
	for n < max && p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		v = v*10 + int(p.s[p.i]-'0')
		p.i++
		n++
	}
	return v, n >= min
}

// zone consumes a zone: Z, UTC, GMT, or an offset +hh, +hhmm, +hh:mm (or -).
func (p *dateScanner) zone() (*time.Location, string) {
	rest := p.s[p.i:]
	for _, name := range []string{"Z", "z", "UTC", "GMT"} {
		if rest == name {
			p.i = len(p.s)
			return time.UTC, ""
		}
	}
	sign := 1
	switch {
	case p.byte('+'):
	case p.byte('-'):
		sign = -1
	default:
		return nil, ""
	}
	hh, ok := p.digits(1, 2)
	if !ok {
		return nil, ""
	}
	mm := 0
	colon := p.byte(':')
	if colon || !p.done() {
		if mm, ok = p.digits(2, 2); !ok {
			return nil, ""
		}
	}
	if hh > 23 || mm > 59 {
		return nil, fmt.Sprintf("offset %s out of range", rest)
	}
	off := sign * (hh*3600 + mm*60)
	if off == 0 {
		return time.UTC, ""
	}
	return time.FixedZone("", off), ""
}
