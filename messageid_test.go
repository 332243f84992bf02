package main

import (
	"net/mail"
	"os"
	"path/filepath"
	"testing"
)

// maildirMessageIDs returns the Message-IDs of the mails in var/mail/new,
// and empties it.
func maildirMessageIDs(t *testing.T, e *testEnv) []string {
	t.Helper()
	files, _ := filepath.Glob(e.path("var/mail/new/*"))
	var ids []string
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(r)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, msg.Header.Get("Message-ID"))
		r.Close()
		os.Remove(f)
	}
	return ids
}

// TestMessageIDsNeverRepeat: with a stable secret, a database reset starts
// mailing and subscriber ids again at 1; the Message-IDs of the new
// mailings must still be new (receivers drop duplicates), for another post
// and for the same one.
func TestMessageIDsNeverRepeat(t *testing.T) {
	e := newEnv(t, "[server]\nsecret_file = \"secret.txt\"\n")
	if err := os.WriteFile(e.path("secret.txt"), []byte("a stable secret of 32 bytes or so"), 0o600); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	send := func(label, post string) {
		t.Helper()
		mustRun(t, e, "send", post)
		ids := maildirMessageIDs(t, e)
		if len(ids) != 1 || ids[0] == "" {
			t.Fatalf("%s: Message-IDs %q, want one", label, ids)
		}
		if prev, ok := seen[ids[0]]; ok {
			t.Errorf("%s repeats the Message-ID %s of %s", label, ids[0], prev)
		}
		seen[ids[0]] = label
	}
	reset := func() {
		t.Helper()
		for _, f := range []string{"var/herald.db", "var/herald.db-wal", "var/herald.db-shm"} {
			os.Remove(e.path(f))
		}
		mustRun(t, e, "subscribers", "add", "reader@example.org")
	}
	reset()
	send("post A", "counting-readers-without-analytics")
	reset()
	send("post B after a reset", "backups-for-a-one-person-blog")
	reset()
	send("post A after a second reset", "counting-readers-without-analytics")
}
