package feed

import (
	"testing"
	"time"
)

func TestOutputStamp(t *testing.T) {
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	out := &Output{Files: []File{newFile("a.xml", AtomType, []byte("a"), time.Time{}), newFile("b.xml", AtomType, []byte("b"), time.Time{})}}
	st := out.Stamp(nil, t1)
	for _, f := range out.Files {
		if !f.Modified.Equal(t1.Truncate(time.Second)) || !st[f.Name].Modified.Equal(f.Modified) || st[f.Name].ETag != f.ETag {
			t.Errorf("%s: first stamp %v / %+v, want %v", f.Name, f.Modified, st[f.Name], t1)
		}
	}
	// The next output: a.xml unchanged keeps its time, b.xml changed and
	// c.xml new take the new time.
	t2 := t1.Add(time.Hour)
	out2 := &Output{Files: []File{newFile("a.xml", AtomType, []byte("a"), time.Time{}), newFile("b.xml", AtomType, []byte("b2"), time.Time{}), newFile("c.xml", AtomType, []byte("c"), time.Time{})}}
	st2 := out2.Stamp(st, t2)
	want := map[string]time.Time{"a.xml": t1.Truncate(time.Second), "b.xml": t2.Truncate(time.Second), "c.xml": t2.Truncate(time.Second)}
	for _, f := range out2.Files {
		if !f.Modified.Equal(want[f.Name]) || !st2[f.Name].Modified.Equal(want[f.Name]) {
			t.Errorf("%s: Modified %v, want %v", f.Name, f.Modified, want[f.Name])
		}
	}
	if len(st2) != 3 {
		t.Errorf("%d stamps, want 3", len(st2))
	}
}

// TestPostModifiedFollowsLastModifiedAt: an entry's updated time is the
// front matter's updated / last_modified_at when set (never earlier than
// its date). The file's mtime is deliberately not used: a fresh clone gives
// every file a new one, which would mark every entry updated (and differ
// from jekyll-feed, TestJekyllFeedReference).
func TestPostModifiedFollowsLastModifiedAt(t *testing.T) {
	date := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	edit := time.Date(2024, 6, 1, 9, 30, 15, 0, time.UTC)
	fm := time.Date(2024, 5, 20, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name          string
		updated, mtim time.Time
		want          time.Time
	}{
		{"no edit", time.Time{}, time.Time{}, date},
		{"a fresh clone's mtime is not an edit", time.Time{}, edit, date},
		{"last_modified_at", fm, edit, fm},
		{"last_modified_at before the date", date.Add(-time.Hour), time.Time{}, date},
	}
	for _, tt := range tests {
		p := &Post{Date: date, Updated: tt.updated, ModTime: tt.mtim}
		if got := p.Modified(); !got.Equal(tt.want) {
			t.Errorf("%s: Modified %v, want %v", tt.name, got, tt.want)
		}
	}
}
