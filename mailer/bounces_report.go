package mailer

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"herald/schedule/store"
)

// Warning thresholds of the bounce report (Gmail's bulk-sender guidance
// keeps spam complaints under 0.3 %; warn well before).
const (
	ComplaintWarnRate = 0.001 // complaints per sent message
	HardWarnRate      = 0.02  // hard bounces per sent message of one mailing
	rateWindow        = 30 * 24 * time.Hour
	rateMailings      = 10
)

// BounceRatesStore is what the bounce report needs of the database.
type BounceRatesStore interface {
	BounceRates(ctx context.Context, since time.Time, limit int) (store.BounceRates, []store.BounceRates, error)
}

// BounceReport is the bounce and complaint picture: the last 30 days and
// the newest mailings, with warnings.
type BounceReport struct {
	Period   store.BounceRates
	Mailings []store.BounceRates
	Warnings []string
}

// LoadBounceReport reads the rates at now and derives the warnings: a
// complaint rate over 0.1 % (over 30 days, or of a mailing), hard bounces
// over 2 % of a mailing.
func LoadBounceReport(ctx context.Context, db BounceRatesStore, now time.Time) (BounceReport, error) {
	period, per, err := db.BounceRates(ctx, now.Add(-rateWindow), rateMailings)
	if err != nil {
		return BounceReport{}, fmt.Errorf("mailer: bounce rates: %w", err)
	}
	r := BounceReport{Period: period, Mailings: per}
	if period.Complaints > 0 && period.ComplaintRate() > ComplaintWarnRate {
		r.Warnings = append(r.Warnings, fmt.Sprintf("complaint rate over 30 days is %s (%d of %d), over %s",
			pct(period.ComplaintRate()), period.Complaints, period.Sent, pct(ComplaintWarnRate)))
	}
	for _, m := range per {
		if m.Complaints > 0 && m.ComplaintRate() > ComplaintWarnRate {
			r.Warnings = append(r.Warnings, fmt.Sprintf("mailing #%d: complaint rate %s (%d of %d), over %s",
				m.MailingID, pct(m.ComplaintRate()), m.Complaints, m.Sent, pct(ComplaintWarnRate)))
		}
		if m.Hard > 0 && m.HardRate() > HardWarnRate {
			r.Warnings = append(r.Warnings, fmt.Sprintf("mailing #%d: hard bounces %s (%d of %d), over %s",
				m.MailingID, pct(m.HardRate()), m.Hard, m.Sent, pct(HardWarnRate)))
		}
	}
	return r, nil
}

func pct(f float64) string {
	s := fmt.Sprintf("%.2f", 100*f)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + " %"
}

// WriteText writes the report for `herald status`.
func (r BounceReport) WriteText(w io.Writer) error {
	p := r.Period
	fmt.Fprintf(w, "\nBounces (30 days): %d sent, %d hard (%s), %d soft (%s), %d complaints (%s)\n",
		p.Sent, p.Hard, pct(p.HardRate()), p.Soft, pct(p.SoftRate()), p.Complaints, pct(p.ComplaintRate()))
	if len(r.Mailings) > 0 {
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  MAILING\tSENT\tHARD\tSOFT\tCOMPLAINTS")
		for _, m := range r.Mailings {
			fmt.Fprintf(tw, "  #%d\t%d\t%d (%s)\t%d (%s)\t%d (%s)\n", m.MailingID, m.Sent,
				m.Hard, pct(m.HardRate()), m.Soft, pct(m.SoftRate()), m.Complaints, pct(m.ComplaintRate()))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", warn)
	}
	return nil
}

// WriteMetrics writes the report in the Prometheus text format.
func (r BounceReport) WriteMetrics(w io.Writer) {
	p := r.Period
	fmt.Fprintln(w, "# HELP herald_bounce_sent_30d Messages sent in the last 30 days.")
	fmt.Fprintln(w, "# TYPE herald_bounce_sent_30d gauge")
	fmt.Fprintf(w, "herald_bounce_sent_30d %d\n", p.Sent)
	fmt.Fprintln(w, "# HELP herald_bounces_30d Subscribers with a bounce or complaint in the last 30 days, by type.")
	fmt.Fprintln(w, "# TYPE herald_bounces_30d gauge")
	fmt.Fprintf(w, "herald_bounces_30d{type=\"hard\"} %d\n", p.Hard)
	fmt.Fprintf(w, "herald_bounces_30d{type=\"soft\"} %d\n", p.Soft)
	fmt.Fprintf(w, "herald_bounces_30d{type=\"complaint\"} %d\n", p.Complaints)
	fmt.Fprintln(w, "# HELP herald_bounce_rate_30d Bounces and complaints per message sent in the last 30 days, by type.")
	fmt.Fprintln(w, "# TYPE herald_bounce_rate_30d gauge")
	fmt.Fprintf(w, "herald_bounce_rate_30d{type=\"hard\"} %g\n", p.HardRate())
	fmt.Fprintf(w, "herald_bounce_rate_30d{type=\"soft\"} %g\n", p.SoftRate())
	fmt.Fprintf(w, "herald_bounce_rate_30d{type=\"complaint\"} %g\n", p.ComplaintRate())
	fmt.Fprintln(w, "# HELP herald_mailing_bounce_rate Bounces and complaints per message sent, for the newest mailings, by type.")
	fmt.Fprintln(w, "# TYPE herald_mailing_bounce_rate gauge")
	for _, m := range r.Mailings {
		fmt.Fprintf(w, "herald_mailing_bounce_rate{mailing=\"%d\",type=\"hard\"} %g\n", m.MailingID, m.HardRate())
		fmt.Fprintf(w, "herald_mailing_bounce_rate{mailing=\"%d\",type=\"soft\"} %g\n", m.MailingID, m.SoftRate())
		fmt.Fprintf(w, "herald_mailing_bounce_rate{mailing=\"%d\",type=\"complaint\"} %g\n", m.MailingID, m.ComplaintRate())
	}
	fmt.Fprintln(w, "# HELP herald_bounce_warnings Bounce or complaint rates over their warning thresholds (complaints 0.1 %, hard bounces 2 % of a mailing).")
	fmt.Fprintln(w, "# TYPE herald_bounce_warnings gauge")
	fmt.Fprintf(w, "herald_bounce_warnings %d\n", len(r.Warnings))
}
