package feed

import (
	"cmp"
	"slices"
	"strings"
	"unicode"
)

type tagFeed struct {
	slug, name string
	items      []*item
}

// collectTags groups sorted items by tag slug. The display name of a slug
// is the smallest of its spellings, so that it does not depend on order.
func collectTags(sorted []*item) []tagFeed {
	bySlug := map[string]*tagFeed{}
	for _, e := range sorted {
		seen := map[string]bool{}
		for _, t := range e.post.Tags {
			s := TagSlug(t)
			if s == "" || seen[s] {
				continue
			}
			seen[s] = true
			tf := bySlug[s]
			if tf == nil {
				tf = &tagFeed{slug: s, name: t}
				bySlug[s] = tf
			} else if t < tf.name {
				tf.name = t
			}
			tf.items = append(tf.items, e)
		}
	}
	out := make([]tagFeed, 0, len(bySlug))
	for _, tf := range bySlug {
		out = append(out, *tf)
	}
	slices.SortFunc(out, func(a, b tagFeed) int { return cmp.Compare(a.slug, b.slug) })
	return out
}

// TagSlug is the folder name of a tag's feeds: lowercase, every run of
// characters other than letters and digits turned into one '-', no leading
// or trailing '-'. It is "" for a tag with no letter or digit.
func TagSlug(tag string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(tag) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}

// postTerms is the post's tags then its categories, without duplicates
// (compared without case; the first spelling is kept).
func postTerms(p *Post) []string {
	if len(p.Tags)+len(p.Categories) == 0 {
		return nil
	}
	out := make([]string, 0, len(p.Tags)+len(p.Categories))
	for _, list := range [][]string{p.Tags, p.Categories} {
		for _, t := range list {
			t = strings.TrimSpace(t)
			if t != "" && !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, t) }) {
				out = append(out, t)
			}
		}
	}
	return out
}
