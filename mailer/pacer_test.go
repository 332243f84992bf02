package mailer

import "testing"

// mail.smtp.rate is for the whole cluster: n live daemons each take 1/n of
// it, a brake in force is scaled along, and an unlimited rate stays so.
func TestPacerShare(t *testing.T) {
	p := newPacer(90, 0)
	p.share(3)
	if p.base != 30 || p.rate != 30 {
		t.Errorf("3 daemons: base %g rate %g, want 30 30", p.base, p.rate)
	}
	p.throttle() // 15
	p.share(1)
	if p.base != 90 || p.rate != 45 {
		t.Errorf("alone again while braking: base %g rate %g, want 90 45", p.base, p.rate)
	}
	p.share(0) // never divides by zero: at least this daemon
	if p.base != 90 {
		t.Errorf("share(0): base %g, want 90", p.base)
	}
	u := newPacer(0, 0)
	u.share(4)
	if u.base != 0 || u.rate != 0 {
		t.Errorf("unlimited shared: base %g rate %g, want 0 0", u.base, u.rate)
	}
}
