package mailer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"herald/feed"
)

func TestMaildirTransport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "mail")
	c := testComposer(t, nil)
	p, err := c.Prepare([]PostMail{{Title: "Post", URL: "https://blog.example.com/p/", Date: fixedNow, Section: seedSection()}})
	if err != nil {
		t.Fatal(err)
	}
	tr := NewMaildirTransport(dir)
	conn, err := tr.Open(context.Background())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	want := map[string][]byte{}
	for i := range 5 {
		m, err := p.Message(Recipient{Email: fmt.Sprintf("r%d@example.org", i), UnsubscribeURL: fmt.Sprintf("https://blog.example.com/u?t=%d", i)}, fmt.Sprintf("m%d@x", i))
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.Send(context.Background(), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
		want[string(m.Bytes())] = m.Bytes()
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"tmp", "cur"} {
		if es, err := os.ReadDir(filepath.Join(dir, sub)); err != nil || len(es) != 0 {
			t.Errorf("%s: %d entries, %v; want an empty folder", sub, len(es), err)
		}
	}
	es, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 5 {
		t.Fatalf("new/ has %d files, want 5", len(es))
	}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(dir, "new", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := want[string(b)]; !ok {
			t.Errorf("%s: unexpected content", e.Name())
		}
		delete(want, string(b))
		checkMail(t, b)
		if info, _ := e.Info(); info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", e.Name(), info.Mode())
		}
	}
	if len(want) != 0 {
		t.Errorf("%d messages missing", len(want))
	}

	// Canceled context: nothing written.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	conn, _ = tr.Open(context.Background())
	m, _ := p.Message(testRecipient(), "c@x")
	if err := conn.Send(ctx, m); err == nil {
		t.Error("Send with a canceled context succeeded")
	}
	if es, _ := os.ReadDir(filepath.Join(dir, "new")); len(es) != 5 {
		t.Errorf("new/ has %d files after a canceled send", len(es))
	}
}

func TestMaildirOpenFails(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	_, err := NewMaildirTransport(filepath.Join(file, "mail")).Open(context.Background())
	if err == nil {
		t.Fatal("Open under a regular file succeeded")
	}
	var se *SendError
	if !errors.As(err, &se) {
		t.Errorf("error %T is not a *SendError", err)
	}
}

// TestWriteSampleMaildir writes sample newsletters (one post, and a digest)
// for third-party checks when HERALD_SAMPLE_MAILDIR names a folder:
//
//	HERALD_SAMPLE_MAILDIR=/tmp/herald-mail go test ./mailer -run TestWriteSampleMaildir
//	../shared/tools/check-mails /tmp/herald-mail
//	../shared/tools/check-spam /tmp/herald-mail
func TestWriteSampleMaildir(t *testing.T) {
	dir := os.Getenv("HERALD_SAMPLE_MAILDIR")
	if dir == "" {
		t.Skip("HERALD_SAMPLE_MAILDIR not set")
	}
	c := newTestComposer(t, nil, func(cfg *Config) { cfg.UnsubscribeMailto = "unsubscribe@example.com" })
	single, err := c.Prepare([]PostMail{{Title: "Finishing my Data Career Masterplan", URL: "https://blog.example.com/2023/10/06/finishing-my-data-career-masterplan/", Date: fixedNow, Section: seedSection()}})
	if err != nil {
		t.Fatal(err)
	}
	digest, err := c.Prepare([]PostMail{
		{Title: "Finishing my Data Career Masterplan", URL: "https://blog.example.com/2023/10/06/finishing/", Date: fixedNow, Section: seedSection()},
		{Title: "Café culture ✓", URL: "https://blog.example.com/2023/10/07/cafe/", Date: fixedNow.Add(24 * time.Hour), Section: &feed.Section{HTML: "<p>Short and sweet.</p>", Text: "Short and sweet."}},
	})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := NewMaildirTransport(dir).Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		p, kind := single, "post"
		if i >= 3 {
			p, kind = digest, "digest"
		}
		r := Recipient{Email: fmt.Sprintf("reader%d@example.org", i), Name: "Reader Número " + fmt.Sprint(i), UnsubscribeURL: fmt.Sprintf("https://blog.example.com/herald/unsubscribe?token=tok%040d", i)}
		m, err := p.Message(r, fmt.Sprintf("herald.%s.%d@blog.example.com", kind, i))
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
}
