package feed

import "time"

// Stamp is when a served file's bytes last changed: the ETag of those bytes
// and the time they were first served. Stamps are kept by the caller (the
// daemon keeps them in its state, so a restart does not move them).
type Stamp struct {
	ETag     string    `json:"etag"`
	Modified time.Time `json:"modified"`
}

// Stamp sets each file's Modified, the Last-Modified the Handler sends, to
// the time its bytes last changed: prev's time when the file's ETag is
// prev's, else now (a new file, or new bytes: a post added, even
// back-dated, or a typo fixed). It returns the stamps of o's files, to be
// kept for the next call. A nil o gives nil.
func (o *Output) Stamp(prev map[string]Stamp, now time.Time) map[string]Stamp {
	if o == nil {
		return nil
	}
	now = now.UTC().Truncate(time.Second) // HTTP dates have whole seconds
	next := make(map[string]Stamp, len(o.Files))
	for i := range o.Files {
		f := &o.Files[i]
		st, ok := prev[f.Name]
		if !ok || st.ETag != f.ETag || st.Modified.IsZero() {
			st = Stamp{ETag: f.ETag, Modified: now}
		}
		f.Modified = st.Modified
		next[f.Name] = st
	}
	return next
}
