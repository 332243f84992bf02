package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"herald/feed"
)

// feedBytes reads the rig's feed files.
func (r *snapRig) feedBytes(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range []string{feed.AtomName, feed.RSSName, feed.JSONName} {
		b, err := os.ReadFile(r.path("public/" + name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

// entryUpdated parses feed name back with gofeed and returns the one
// entry's published and updated times.
func (r *snapRig) entryUpdated(t *testing.T, name string) (published, updated time.Time) {
	t.Helper()
	f, err := gofeed.NewParser().Parse(bytes.NewReader(r.feedBytes(t)[name]))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(f.Items) != 1 || f.Items[0].PublishedParsed == nil || f.Items[0].UpdatedParsed == nil {
		t.Fatalf("%s: items %+v, want one with published and updated", name, f.Items)
	}
	return *f.Items[0].PublishedParsed, *f.Items[0].UpdatedParsed
}

// lastModified is the Last-Modified the daemon serves feed name with.
func (r *snapRig) lastModified(t *testing.T, name string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/"+name, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /%s: %d", name, rec.Code)
	}
	return rec.Header().Get("Last-Modified")
}

// TestEntryUpdatedFollowsEdit: a typo fixed in a published post (no
// last_modified_at) moves its Atom updated and JSON Feed date_modified to
// when the change was seen, and the feeds' Last-Modified with them; an
// unchanged rescan and a restart keep the bytes; last_modified_at still
// wins; herald build writes the daemon's bytes; a fresh state marks
// nothing updated.
func TestEntryUpdatedFollowsEdit(t *testing.T) {
	r := newSnapRig(t, "", 0)
	const name = "2026-03-02-typo.md"
	r.write(t, name, snapPost("Typo", "2026-03-02 09:01:00", "teh word"))
	r.clock.Advance(2 * time.Minute)
	r.scan(t)
	date := time.Date(2026, 3, 2, 9, 1, 0, 0, time.UTC)
	for _, f := range []string{feed.AtomName, feed.JSONName} {
		if pub, upd := r.entryUpdated(t, f); !pub.Equal(date) || !upd.Equal(date) {
			t.Errorf("%s before the edit: published %v updated %v, want both %v", f, pub, upd, date)
		}
	}
	lm0 := r.lastModified(t, feed.AtomName)

	// The typo is fixed later.
	r.clock.Advance(3 * time.Hour)
	edit := r.clock.Now().Truncate(time.Second)
	r.write(t, name, snapPost("Typo", "2026-03-02 09:01:00", "the word"))
	if res := r.scan(t); len(res.Changed) == 0 {
		t.Fatalf("scan after the edit changed no feed file")
	}
	for _, f := range []string{feed.AtomName, feed.JSONName} {
		if pub, upd := r.entryUpdated(t, f); !pub.Equal(date) || !upd.Equal(edit) {
			t.Errorf("%s after the edit: published %v updated %v, want %v and %v", f, pub, upd, date, edit)
		}
	}
	lm1 := r.lastModified(t, feed.AtomName)
	if lm1 == lm0 || lm1 != edit.Format(http.TimeFormat) {
		t.Errorf("Last-Modified %q after the edit (was %q), want %q", lm1, lm0, edit.Format(http.TimeFormat))
	}
	want := r.feedBytes(t)

	// Rescans and a restart later give the same bytes and Last-Modified.
	r.clock.Advance(time.Hour)
	if res := r.scan(t); len(res.Changed) != 0 {
		t.Errorf("an unchanged rescan rewrote %v", res.Changed)
	}
	r.open(t)
	r.clock.Advance(time.Hour)
	if res := r.scan(t); len(res.Changed) != 0 {
		t.Errorf("a restart rewrote %v", res.Changed)
	}
	for f, b := range r.feedBytes(t) {
		if !bytes.Equal(b, want[f]) {
			t.Errorf("%s changed across the restart:\n%s\nwant\n%s", f, b, want[f])
		}
	}
	if lm := r.lastModified(t, feed.AtomName); lm != lm1 {
		t.Errorf("Last-Modified %q after the restart, want %q", lm, lm1)
	}

	// herald build (one-shot) writes the same bytes: it reads the edit
	// times from the state database.
	m := mustRun(t, &testEnv{dir: r.dir, config: filepath.Join(r.dir, "config.toml"), clock: r.clock}, "build")
	for f, b := range r.feedBytes(t) {
		if !bytes.Equal(b, want[f]) {
			t.Errorf("herald build changed %s:\n%s", f, m.stdout)
		}
	}

	// last_modified_at, when set, wins.
	r.clock.Advance(time.Hour)
	r.write(t, name, "---\ntitle: Typo\ndate: 2026-03-02 09:01:00\nlast_modified_at: 2026-03-02 10:00:00\n---\n# TLDR\n\nthe words.\n")
	r.scan(t)
	if _, upd := r.entryUpdated(t, feed.AtomName); !upd.Equal(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("updated %v, want last_modified_at", upd)
	}

	// A fresh state (a new clone, a new database) marks nothing updated.
	if err := os.Rename(r.path("var"), r.path("var.old")); err != nil {
		t.Fatal(err)
	}
	r.write(t, name, snapPost("Typo", "2026-03-02 09:01:00", "the word"))
	r.open(t)
	r.scan(t)
	for _, f := range []string{feed.AtomName, feed.JSONName} {
		if pub, upd := r.entryUpdated(t, f); !upd.Equal(pub) {
			t.Errorf("%s on a fresh state: updated %v, want the date %v", f, upd, pub)
		}
	}
	mustRun(t, &testEnv{dir: r.dir, config: filepath.Join(r.dir, "config.toml"), clock: r.clock}, "build")
	if pub, upd := r.entryUpdated(t, feed.AtomName); !upd.Equal(pub) {
		t.Errorf("herald build on a fresh state: updated %v, want the date %v", upd, pub)
	}
}

// TestEntryUpdatedSameOnEveryNode: two daemons on one database, each with
// its own copy of the posts, see an edit at different times: both write
// the time the first one saw, so they serve the same bytes, with the same
// Last-Modified.
func TestEntryUpdatedSameOnEveryNode(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			state := stateSection(t, backend)
			if state == "" {
				state = fmt.Sprintf("[state]\ndatabase = %q\n", filepath.Join(t.TempDir(), "herald.db"))
			}
			a, b := newSnapRig(t, state, 0), newSnapRig(t, state, 0)
			const name = "2026-03-02-typo.md"
			for _, r := range []*snapRig{a, b} {
				r.write(t, name, snapPost("Typo", "2026-03-02 09:01:00", "teh word"))
				r.clock.Advance(2 * time.Minute)
				r.scan(t)
			}
			a.clock.Advance(time.Hour)
			a.write(t, name, snapPost("Typo", "2026-03-02 09:01:00", "the word"))
			a.scan(t)
			b.clock.Advance(5 * time.Hour) // b's copy of the posts gets the fix later
			b.write(t, name, snapPost("Typo", "2026-03-02 09:01:00", "the word"))
			b.scan(t)
			want := a.clock.Now().Truncate(time.Second)
			if _, upd := b.entryUpdated(t, feed.AtomName); !upd.Equal(want) {
				t.Errorf("node b: updated %v, want %v (when node a saw the edit)", upd, want)
			}
			for _, f := range []string{feed.AtomName, feed.RSSName, feed.JSONName} {
				if la, lb := a.lastModified(t, f), b.lastModified(t, f); la != lb || la != want.Format(http.TimeFormat) {
					t.Errorf("%s Last-Modified: node a %s, node b %s; want both %s", f, la, lb, want.Format(http.TimeFormat))
				}
			}
			fa, fb := a.feedBytes(t), b.feedBytes(t)
			for f := range fa {
				if !bytes.Equal(fa[f], fb[f]) {
					t.Errorf("%s differs between the nodes", f)
				}
			}
		})
	}
}
