package main

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSendDryRunUnreadablePost: a post announced with its snapshot, whose
// file is then broken or deleted before its mailing is made: `herald send
// -dry-run POST` finds it by its announced slug or file name (and says
// so), shows the announced subject and exactly the subscribers `herald
// send POST` then mails from the snapshot.
func TestSendDryRunUnreadablePost(t *testing.T) {
	for _, tc := range []struct {
		name, arg, how string
		change         func(t *testing.T, r *snapRig)
	}{
		{"broken by slug", "news", `"news" is the slug`, func(t *testing.T, r *snapRig) {
			r.write(t, "2026-03-02-news.md", "---\ntitle: [broken\n---\n")
		}},
		{"deleted by file name", "2026-03-02-news.md", `"2026-03-02-news.md" is the file name`, func(t *testing.T, r *snapRig) {
			if err := os.Remove(r.path("posts/2026-03-02-news.md")); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newSnapRig(t, "", 3)
			r.write(t, "2026-03-02-news.md", snapPost("Announced News", "2026-03-02 09:01:00", "ANNOUNCEDV1"))
			r.clock.Advance(5 * time.Minute)
			r.scan(t)
			tc.change(t, r)
			out := mustRun(t, r.env(), "send", "-dry-run", tc.arg).stdout
			planned, reasons := parsePlan(t, out)
			want := []string{"reader000@example.org", "reader001@example.org", "reader002@example.org"}
			for _, s := range []string{"cannot be read now", tc.how, "subject:    Announced News", "recipients: 3 (of 3 confirmed now)", "dry run: nothing was sent"} {
				if !strings.Contains(out, s) {
					t.Errorf("dry run lacks %q:\n%s", s, out)
				}
			}
			if !slices.Equal(planned, want) || len(reasons) != 0 || strings.Contains(out, "not mailed") {
				t.Errorf("dry run plans %v (not sent %v), want %v:\n%s", planned, reasons, want, out)
			}
			mustRun(t, r.env(), "send", tc.arg)
			r.checkMailed(t, 3, []string{"ANNOUNCEDV1"}, nil)
		})
	}
}

// TestSendDryRunUnreadableNeverQueued: a post recorded without mail (the
// blog's archive at the first run) and broken since: the send refuses
// it, and the dry run says so instead of "no post named".
func TestSendDryRunUnreadableNeverQueued(t *testing.T) {
	r := newSnapRig(t, "", 2)
	r.write(t, "2026-03-01-old.md", snapPost("Old", "2026-03-01 08:00:00", "OLDV1")) // before the first run: archive
	r.clock.Advance(time.Minute)
	if res := r.scan(t); len(res.Announced) != 1 || res.Announced[0].Queued {
		t.Fatalf("announced %+v, want one recorded without mail", res.Announced)
	}
	r.write(t, "2026-03-01-old.md", "---\ntitle: [broken\n---\n")
	out := mustRun(t, r.env(), "send", "-dry-run", "old").stdout
	if !strings.Contains(out, "never queued for mail: herald send refuses it") || !strings.Contains(out, `"old" is the slug`) {
		t.Errorf("dry run:\n%s", out)
	}
	if res := r.env().run(t, "send", "old"); res.code == 0 || !strings.Contains(res.stderr, "never queued for mail") {
		t.Errorf("send: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}

// TestSendDryRunAnnouncedSnapshot: posts announced and edited before their
// mailings are made: the dry run takes the subject and the "not mailed"
// reason from what each announcement keeps, not from the file now, as
// the send does (a post announced mailable and edited to `newsletter:
// false` and a new title is mailed as announced; one announced with
// `newsletter: false` and edited to be mailed is not mailed).
func TestSendDryRunAnnouncedSnapshot(t *testing.T) {
	r := newSnapRig(t, "", 2)
	r.write(t, "2026-03-02-news.md", snapPost("Announced News", "2026-03-02 09:01:00", "NEWSV1"))
	r.write(t, "2026-03-02-quiet.md", "---\ntitle: Quiet\ndate: 2026-03-02 09:02:00\nnewsletter: false\n---\n# TLDR\n\nQUIETV1.\n")
	r.clock.Advance(5 * time.Minute)
	r.scan(t)
	r.write(t, "2026-03-02-news.md", strings.Replace(snapPost("Edited News", "2026-03-02 09:01:00", "NEWSV2"), "\n---\n", "\nnewsletter: false\n---\n", 1))
	r.write(t, "2026-03-02-quiet.md", snapPost("Loud", "2026-03-02 09:02:00", "QUIETV2"))
	e := r.env()

	out := mustRun(t, e, "send", "-dry-run", "news").stdout
	planned, _ := parsePlan(t, out)
	if !strings.Contains(out, "subject:    Announced News") || strings.Contains(out, "not mailed") || len(planned) != 2 {
		t.Errorf("dry run of the post announced mailable:\n%s", out)
	}
	out = mustRun(t, e, "send", "-dry-run", "quiet").stdout
	if !strings.Contains(out, "not mailed: newsletter: false in 2026-03-02-quiet.md") || strings.Contains(out, "subject:") {
		t.Errorf("dry run of the post announced with newsletter: false:\n%s", out)
	}

	mustRun(t, e, "send", "news")
	r.checkMailed(t, 2, []string{"NEWSV1", "Announced News"}, []string{"NEWSV2", "Edited News"})
	mustRun(t, e, "send", "quiet")
	if got := r.mails(t); len(got["reader000@example.org"]) != 1 {
		t.Errorf("after sending quiet: %d messages to reader000, want 1 (quiet is not mailed)", len(got["reader000@example.org"]))
	}
}

// TestSendDryRunCountsOtherAnnouncements: the dry run's "also" lines count
// what the send does for other posts: the deliveries it creates for their
// announcements whose mailings do not exist yet (cut off at each
// announcement's time), and the mailings it skips; the send's summary of
// other posts agrees.
func TestSendDryRunCountsOtherAnnouncements(t *testing.T) {
	r := newSnapRig(t, "", 3)
	r.write(t, "2026-03-02-news.md", snapPost("News", "2026-03-02 09:01:00", "NEWSV1"))
	r.write(t, "2026-03-02-other.md", snapPost("Other", "2026-03-02 09:02:00", "OTHERV1"))
	r.write(t, "2026-03-02-quiet.md", "---\ntitle: Quiet\ndate: 2026-03-02 09:03:00\nnewsletter: false\n---\n# TLDR\n\nQUIET.\n")
	r.clock.Advance(5 * time.Minute)
	r.scan(t)
	e := r.env()
	r.clock.Advance(time.Minute)
	mustRun(t, e, "subscribers", "add", "late@example.org") // after the announcements: in none of them

	out := mustRun(t, e, "send", "-dry-run", "news").stdout
	for _, s := range []string{
		"recipients: 3 (of 4 confirmed now)",
		"also:       3 new deliveries for 1 mailing of other posts, not created or expanded yet",
		"also:       2026-03-02-quiet.md: its mailing is skipped: newsletter: false in 2026-03-02-quiet.md",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("dry run lacks %q:\n%s", s, out)
		}
	}
	out = mustRun(t, e, "send", "news").stdout
	if !strings.Contains(out, "sent 3, failed 0") || !strings.Contains(out, "also due for other posts: sent 3, failed 0") {
		t.Errorf("the send:\n%s", out)
	}
	if got := r.mails(t); len(got) != 3 || len(got["late@example.org"]) != 0 {
		t.Errorf("mailed %d recipients (late@: %d), want 3, none to late@", len(got), len(got["late@example.org"]))
	}
}

// TestSendDryRunUnreadableDigest: in digest mode, an automatic
// announcement of a post that cannot be read now stays the digest's (the
// send does not announce what it cannot read): the dry run says the send
// mails nothing of it, and the send mails nothing.
func TestSendDryRunUnreadableDigest(t *testing.T) {
	r := newSnapRig(t, "[schedule]\ndigest = \"0 0 1 1 *\"\n", 2)
	r.write(t, "2026-03-02-news.md", snapPost("News", "2026-03-02 09:01:00", "NEWSV1"))
	r.clock.Advance(5 * time.Minute)
	r.scan(t)
	r.write(t, "2026-03-02-news.md", "---\ntitle: [broken\n---\n")
	out := mustRun(t, r.env(), "send", "-dry-run", "news").stdout
	if planned, _ := parsePlan(t, out); len(planned) != 0 || !strings.Contains(out, "not mailed: its announcement waits for the next digest") {
		t.Errorf("dry run:\n%s", out)
	}
	mustRun(t, r.env(), "send", "news")
	if got := r.mails(t); len(got) != 0 {
		t.Errorf("the send mailed %d recipients; the dry run said none", len(got))
	}
}
