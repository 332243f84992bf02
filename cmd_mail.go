package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"herald/feed"
	"herald/mailer"
	"herald/schedule"
	"herald/schedule/store"
)

// env is what the one-shot commands share: the configuration, the database,
// the posts and the newsletter sender.
type env struct {
	db     store.Store
	loader *feed.Loader
	snap   *feed.Snapshot
	mail   *mailer.Mailer
	clock  schedule.Clock
	dir    string // the posts folder, for messages
}

func (m *Main) openEnv(ctx context.Context, withMailer, send bool) (*env, error) {
	return m.openEnvMode(ctx, withMailer, send, false)
}

// openEnvMode is openEnv; readOnly is for the commands that only read,
// which never create a database.
func (m *Main) openEnvMode(ctx context.Context, withMailer, send, readOnly bool) (*env, error) {
	if err := m.loadConfig(); err != nil {
		return nil, err
	}
	c := &m.Config
	db, err := openStore(ctx, c.State, readOnly, m.Logger)
	if err != nil {
		return nil, err
	}
	m.onClose(db.Close)
	e := &env{db: db, loader: m.newLoader(m.Logger), clock: m.clock(), dir: c.Posts.Dir}
	if withMailer {
		snap, err := e.loader.Scan(ctx)
		if err != nil {
			return nil, err
		}
		e.snap = snap
		parts, err := m.newMailParts(ctx, db, send)
		if err != nil {
			return nil, err
		}
		if e.mail, err = m.newMailer(db, e.loader, parts); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// post finds the post named by args[0], or the newest due post.
func (e *env) post(args []string) (*feed.Post, error) {
	if len(args) > 1 {
		return nil, &usageError{msg: "more than one POST given"}
	}
	if len(args) == 1 {
		p, err := e.loader.Find(e.snap, args[0])
		if errors.Is(err, feed.ErrNotFound) {
			return nil, &noPostError{name: args[0], dir: e.dir, err: err}
		}
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	now := e.clock.Now()
	for _, p := range e.snap.Posts { // newest first
		if p.Due(now) {
			return p, nil
		}
	}
	return nil, errors.New("no published post to use: name one")
}

// noPostError is a POST argument that names no post. Its message names it
// once; it wraps the loader's error (errors.Is feed.ErrNotFound).
type noPostError struct {
	name, dir string
	err       error
}

func (e *noPostError) Error() string {
	return fmt.Sprintf("no post named %q in the posts folder %q (give a file name or a slug)", e.name, e.dir)
}

func (e *noPostError) Unwrap() error { return e.err }

// runPreview prints the newsletter message for a post (.eml).
func (m *Main) runPreview(ctx context.Context) error {
	fs := m.flags("preview")
	htmlFile := fs.String("html", "", "also write the message's HTML part to `FILE`")
	if err := m.parse(fs, m.Args); err != nil {
		return err
	}
	e, err := m.openEnvMode(ctx, true, false, true) // only reads
	if err != nil {
		return err
	}
	p, err := e.post(fs.Args())
	if err != nil {
		return err
	}
	msg, err := e.mail.Preview(ctx, p.ID)
	if err != nil {
		return err
	}
	if *htmlFile != "" {
		if err := os.WriteFile(*htmlFile, []byte(msg.HTML), 0o644); err != nil {
			return fmt.Errorf("preview: %w", err)
		}
	}
	_, err = msg.WriteTo(m.Stdout)
	return err
}

// runSend sends a post's newsletter: to one address (-to), as a dry run, by
// re-queueing failed deliveries, or to every confirmed subscriber (once).
func (m *Main) runSend(ctx context.Context) error {
	fs := m.flags("send")
	to := fs.String("to", "", "send one test message to `ADDR` (not recorded against subscribers)")
	dry := fs.Bool("dry-run", false, "print exactly whom the send would mail now, and why each other subscriber is left out; send nothing")
	retry := fs.Bool("retry-failed", false, "re-queue the post's failed deliveries and send them")
	if err := m.parse(fs, m.Args); err != nil {
		return err
	}
	if *to != "" && (*dry || *retry) {
		return &usageError{msg: "-to does not combine with -dry-run or -retry-failed"}
	}
	if (*retry || (*to == "" && !*dry)) && fs.NArg() == 0 {
		return &usageError{msg: "send: name the POST to send (file name or slug)"}
	}
	var bar *statusLine
	if *to == "" && !*dry && isTerminal(m.Stderr) {
		// The post's progress bar; log lines are written above it, and
		// the mailer does not log progress lines meanwhile.
		bar = &statusLine{w: m.Stderr}
		m.Logger = newLogger(bar, m.LogFormat, m.LogLevel)
		m.progressEvery = -1
	}
	e, err := m.openEnvMode(ctx, true, !*dry, *dry) // a dry run only reads
	if err != nil {
		return err
	}
	p, err := e.post(fs.Args())
	var unreadable bool // p is the database's record: its file cannot be read now
	if npe := (*noPostError)(nil); errors.As(err, &npe) && *to == "" {
		// Announced before and broken, renamed or removed since: its
		// mailing goes on from the database (from what was announced),
		// and the dry run shows that.
		q, why, how, ok, err2 := m.announcedPost(ctx, e, npe.name)
		if err2 != nil {
			return err2
		}
		if ok {
			p, err, unreadable = q, nil, true
			fmt.Fprintf(m.Stdout, "%s cannot be read now (%s); %q is the %s of the post announced as %q; its mailing goes on from the database\n",
				q.Path, why, npe.name, how, q.Title)
		}
	}
	if err != nil {
		return err
	}
	switch {
	case *to != "":
		if err := e.mail.SendTest(ctx, p.ID, *to); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "sent a test of %q to %s\n", p.Title, *to)
		return nil
	case *dry:
		if unreadable && !queued(ctx, e.db, p.ID) {
			writePlan(m.Stdout, mailer.Plan{PostID: p.ID, Path: p.Path, Title: p.Title,
				Skip: "it cannot be read now and was never queued for mail: herald send refuses it (fix it, then herald send it)"})
			return nil
		}
		plan, err := e.mail.DryRun(ctx, p.ID)
		if err != nil {
			return err
		}
		// A post that cannot be read goes on from its announcement, as
		// the send does: its date is not looked at again.
		if now := m.clock().Now(); !unreadable && !p.Due(now) {
			plan.Skip = fmt.Sprintf("not published yet (date %s, or a draft): herald send refuses it", p.Date.Format(time.RFC3339))
		}
		writePlan(m.Stdout, plan)
		return nil
	case *retry:
		n, err := e.db.RequeueFailed(ctx, m.clock().Now(), p.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "re-queued %d failed deliveries of %q\n", n, p.Title)
		if n == 0 {
			// Nothing failed: say where the post's mailing stands.
			lines, _, err := m.mailingState(ctx, e.db, p, false)
			if err != nil {
				return err
			}
			fmt.Fprint(m.Stdout, lines)
		}
	case unreadable:
		if !queued(ctx, e.db, p.ID) {
			return fmt.Errorf("%s cannot be read now and was never queued for mail: fix it, then herald send it", p.Path)
		}
		fmt.Fprintf(m.Stdout, "%q was already queued: sending what is still due\n", p.Title)
	default:
		now := m.clock().Now()
		if !p.Due(now) {
			return fmt.Errorf("%s is not published yet (date %s, or a draft): it cannot be sent", p.Path, p.Date.Format(time.RFC3339))
		}
		sp := seenPost(p, now)
		// The announcement keeps what the newsletter sends (as the
		// daemon's announcements do).
		if sp.Mail, err = e.mail.MailSnapshot(ctx, p); err != nil {
			return err
		}
		_, created, err := e.db.Announce(ctx, now, sp)
		if err != nil {
			return err
		}
		if !created {
			fmt.Fprintf(m.Stdout, "%q was already queued: sending what is still due\n", p.Title)
		}
	}
	sum, err := m.drain(ctx, e.mail, p.ID, bar)
	state, waiting, serr := m.mailingState(context.WithoutCancel(ctx), e.db, p, true)
	if waiting && sum.Post.Total == 0 && ctx.Err() == nil {
		// Nothing of this post was due: its mailing waits (said below),
		// which "sent 0" would hide.
		writeOthers(m.Stdout, sum)
	} else {
		writeSummary(m.Stdout, p.Title, sum, ctx.Err() != nil)
	}
	if err != nil {
		return err
	}
	if serr != nil {
		return serr
	}
	fmt.Fprint(m.Stdout, state)
	if sum.Failed > 0 {
		return silentError(1)
	}
	return nil
}

// writeSummary prints what `herald send POST` did: the post's deliveries
// alone, then what it also delivered of other posts that were due.
func writeSummary(w io.Writer, title string, s mailer.Summary, interrupted bool) {
	c := s.Post
	if interrupted {
		fmt.Fprintf(w, "interrupted: %q: sent %d, failed %d, retrying later %d (of %d to deliver); %d not sent yet: herald send resumes\n",
			title, c.Sent, c.Failed, c.Retried, c.Total, c.Waiting)
	} else {
		// Everything of the post that was due was decided; what is left
		// waits for a retry not due yet, or is in flight with another
		// herald.
		fmt.Fprintf(w, "sent %d, failed %d, retrying later %d (of %d due)", c.Sent, c.Failed, c.Retried, c.Done())
		if c.Waiting > c.Retried {
			fmt.Fprintf(w, "; %d more not due yet or being sent by another herald", c.Waiting-c.Retried)
		}
		fmt.Fprintln(w)
	}
	writeOthers(w, s)
}

// writeOthers prints what `herald send POST` delivered of other posts
// that were due, if anything.
func writeOthers(w io.Writer, s mailer.Summary) {
	c := s.Post
	if o := (mailer.PostCounts{Sent: s.Sent - c.Sent, Failed: s.Failed - c.Failed, Retried: s.Retried - c.Retried}); o.Done() > 0 {
		fmt.Fprintf(w, "also due for other posts: sent %d, failed %d, retrying later %d\n", o.Sent, o.Failed, o.Retried)
	}
}

// drain sends everything due and counts post postID's deliveries apart;
// on a terminal (bar not nil) it draws the post's progress, full at the
// end when everything due was done.
func (m *Main) drain(ctx context.Context, ml *mailer.Mailer, postID string, bar *statusLine) (mailer.Summary, error) {
	if bar == nil {
		return ml.DrainPost(ctx, postID)
	}
	clock := m.clock()
	start := clock.Now()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		timer := clock.NewTimer(200 * time.Millisecond)
		defer timer.Stop()
		for {
			select {
			case <-done:
				return
			case <-timer.C():
				bar.Draw(progressLine(ml.Progress().Post, clock.Now().Sub(start), false))
				timer.Reset(200 * time.Millisecond)
			}
		}
	}()
	sum, err := ml.DrainPost(ctx, postID)
	close(done)
	<-stopped
	bar.End(progressLine(sum.Post, clock.Now().Sub(start), err == nil && ctx.Err() == nil))
	return sum, err
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func writePlan(w io.Writer, p mailer.Plan) {
	at := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
	fmt.Fprintf(w, "post:       %s (%s)\n", p.Title, p.Path)
	if p.Subject != "" {
		fmt.Fprintf(w, "subject:    %s\n", p.Subject)
	}
	if p.Skip != "" {
		fmt.Fprintf(w, "not mailed: %s\n", p.Skip)
		fmt.Fprintln(w, "dry run: nothing was sent")
		return
	}
	fmt.Fprintf(w, "message:    %d bytes\n", p.Bytes)
	ml := p.Mailing
	switch {
	case ml.New:
		fmt.Fprintln(w, "mailing:    a new one, created by the send: everyone confirmed then who has not had the post")
	case ml.ID == 0:
		fmt.Fprintf(w, "mailing:    created by the send from the announcement of %s: only subscribers confirmed by then\n", at(ml.Cutoff))
	case ml.Expand:
		fmt.Fprintf(w, "mailing:    #%d (%s), created %s: only subscribers confirmed by then\n", ml.ID, ml.Kind, at(ml.Cutoff))
	default:
		fmt.Fprintf(w, "mailing:    #%d (%s), for the subscribers confirmed by %s; its deliveries exist: the send sends those still due\n", ml.ID, ml.Kind, at(ml.Cutoff))
	}
	fmt.Fprintf(w, "recipients: %d (of %d confirmed now):\n", p.Recipients, p.Confirmed)
	for _, e := range p.Send {
		if e.Reason != "" {
			fmt.Fprintf(w, "  %s  (%s)\n", e.Email, e.Reason)
		} else {
			fmt.Fprintf(w, "  %s\n", e.Email)
		}
	}
	if len(p.NotSent) > 0 {
		fmt.Fprintf(w, "not sent:   %d:\n", len(p.NotSent))
		for _, e := range p.NotSent {
			fmt.Fprintf(w, "  %s  %s\n", e.Email, e.Reason)
		}
	}
	if p.OtherWaiting > 0 {
		fmt.Fprintf(w, "also:       %d unfinished deliveries of other posts' mailings (pending, retrying or in flight); the send delivers those that are due too\n", p.OtherWaiting)
	}
	if p.OtherNew > 0 {
		deliveries := "deliveries"
		if p.OtherNew == 1 {
			deliveries = "delivery"
		}
		fmt.Fprintf(w, "also:       %d new %s for %s of other posts, not created or expanded yet; the send creates and delivers them too\n",
			p.OtherNew, deliveries, plural(p.OtherMailings, "mailing"))
	}
	for _, h := range p.OtherHeld {
		fmt.Fprintf(w, "also:       %s\n", h)
	}
	fmt.Fprintln(w, "dry run: nothing was sent")
}

// mailingState says, one line each, where post p's mailings stand when
// one of them is not simply sending: waiting for its post (why, and the
// next try; waiting true), skipped (why), or not made yet. With quiet, a
// mailing whose deliveries exist is not mentioned.
func (m *Main) mailingState(ctx context.Context, db store.Store, p *feed.Post, quiet bool) (lines string, waiting bool, err error) {
	list, err := db.Announcements(ctx, 0)
	if err != nil {
		return "", false, err
	}
	var b strings.Builder
	now := m.clock().Now()
	for _, a := range list {
		if a.PostID != p.ID || !a.Queued {
			continue
		}
		switch what := announcementMail(a); {
		case a.WaitReason != "":
			waiting = true
			fmt.Fprintf(&b, "mailing #%d of %q is waiting: %s; next try at %s (%s); it is sent once the post can be read again\n",
				a.MailingID, p.Title, a.WaitReason, a.WaitUntil.In(m.Config.Site.Location()).Format("2006-01-02 15:04:05 MST"), schedule.Until(now, a.WaitUntil))
		case a.Skipped != "":
			fmt.Fprintf(&b, "mailing #%d of %q sends nothing: %s\n", a.MailingID, p.Title, a.Skipped)
		case !quiet || !a.Expanded:
			fmt.Fprintf(&b, "%q: %s\n", p.Title, what)
		}
	}
	return b.String(), waiting, nil
}

// announcedPost finds the post called name (a file name, with or
// without extension, or a slug) among the posts the database knows, for a
// post that is no longer readable in the posts folder; why is the problem
// the scan reported for its file ("not in the posts folder" when none);
// how says what name matched: "path", "file name" or "slug".
func (m *Main) announcedPost(ctx context.Context, e *env, name string) (p *feed.Post, why, how string, ok bool, err error) {
	known, err := e.db.Posts(ctx)
	if err != nil {
		return nil, "", "", false, err
	}
	var match []store.PostState
	for _, k := range known {
		base := path.Base(k.Path)
		switch name {
		case base, strings.TrimSuffix(base, path.Ext(base)):
			how = "file name"
		case k.Path:
			how = "path"
		case k.Slug:
			how = "slug"
		default:
			continue
		}
		match = append(match, k)
	}
	if len(match) != 1 || match[0].AnnouncedAt.IsZero() {
		return nil, "", "", false, nil
	}
	k := match[0]
	why = "not in the posts folder"
	for _, pr := range e.snap.Problems {
		if !pr.Warning && strings.HasSuffix(filepath.ToSlash(pr.File), "/"+k.Path) {
			why = pr.Error()
		}
	}
	return &feed.Post{ID: k.ID, Path: k.Path, Slug: k.Slug, Title: k.Title, URL: k.URL, Date: k.Date}, why, how, true, nil
}

// queued reports whether post id has an announcement queued for mail.
func queued(ctx context.Context, db store.Store, id string) bool {
	list, err := db.Announcements(ctx, 0)
	if err != nil {
		return false
	}
	for _, a := range list {
		if a.PostID == id && a.Queued {
			return true
		}
	}
	return false
}

// announcementMail is where an announcement's mail stands, for people.
func announcementMail(a store.Announcement) string {
	switch {
	case !a.Queued:
		return "not mailed (first run)"
	case a.Skipped != "":
		return "not mailed: " + a.Skipped
	case a.WaitReason != "":
		return "waiting: " + a.WaitReason
	case a.Expanded:
		return fmt.Sprintf("mailing #%d: deliveries queued", a.MailingID)
	case a.MailingID != 0:
		return fmt.Sprintf("mailing #%d: being prepared", a.MailingID)
	}
	return "mail queued"
}

// seenPost is the state record of a post.
func seenPost(p *feed.Post, now time.Time) store.SeenPost {
	return store.SeenPost{ID: p.ID, Path: p.Path, Slug: p.Slug, Title: p.Title, URL: p.URL, Hash: p.Hash, Date: p.Date, Due: p.Due(now)}
}
