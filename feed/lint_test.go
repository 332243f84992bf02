package feed

import (
	"strings"
	"testing"
)

func TestLint(t *testing.T) {
	goodRSS := `<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<title>T</title><link>https://e.com/</link><description>D</description>
<atom:link href="https://e.com/feed.xml" rel="self" type="application/rss+xml"/>
<item><title>P</title><link>https://e.com/p/</link><guid>https://e.com/p/</guid><pubDate>Mon, 02 Jan 2006 15:04:05 +0000</pubDate><description>x</description></item>
</channel></rss>`
	goodAtom := `<feed xmlns="http://www.w3.org/2005/Atom"><id>https://e.com/</id><title>T</title><updated>2006-01-02T15:04:05Z</updated>
<link rel="self" href="https://e.com/atom.xml"/><link rel="alternate" href="https://e.com/"/><author><name>A</name></author>
<entry><id>https://e.com/p/</id><title>P</title><updated>2006-01-02T15:04:05Z</updated><published>2006-01-02T15:04:05Z</published><link rel="alternate" href="https://e.com/p/"/></entry></feed>`
	goodJSON := `{"version":"https://jsonfeed.org/version/1.1","title":"T","home_page_url":"https://e.com/","feed_url":"https://e.com/feed.json",
"items":[{"id":"1","url":"https://e.com/p/","title":"P","content_html":"<p>x</p>","date_published":"2006-01-02T15:04:05Z"}]}`
	tests := []struct {
		name, file, data string
		want             string // "" = no problem
	}{
		{"good rss", RSSName, goodRSS, ""},
		{"good atom", AtomName, goodAtom, ""},
		{"good json", JSONName, goodJSON, ""},
		{"rss without self", RSSName, strings.Replace(goodRSS, `rel="self"`, `rel="hub"`, 1), "atom:link"},
		{"rss bad date", RSSName, strings.Replace(goodRSS, "Mon, 02 Jan 2006 15:04:05 +0000", "2006-01-02", 1), "pubDate"},
		{"rss guid not a url", RSSName, strings.Replace(goodRSS, "<guid>https://e.com/p/</guid>", "<guid>post-1</guid>", 1), "isPermaLink"},
		{"rss relative link", RSSName, strings.Replace(goodRSS, "<link>https://e.com/p/</link>", "<link>/p/</link>", 1), "absolute link"},
		{"rss broken xml", RSSName, goodRSS[:50], "does not parse"},
		{"atom no author", AtomName, strings.Replace(goodAtom, "<author><name>A</name></author>", "", 1), "no author"},
		{"atom no self", AtomName, strings.Replace(goodAtom, `rel="self"`, `rel="related"`, 1), "self and alternate"},
		{"atom bad updated", AtomName, strings.Replace(goodAtom, "<published>2006-01-02T15:04:05Z", "<published>yesterday", 1), "RFC 3339"},
		{"json no feed_url", JSONName, strings.Replace(goodJSON, `"feed_url":"https://e.com/feed.json",`, "", 1), "feed_url"},
		{"json empty id", JSONName, strings.Replace(goodJSON, `"id":"1"`, `"id":""`, 1), "no id"},
		{"json no content", JSONName, strings.Replace(goodJSON, `"content_html":"<p>x</p>",`, "", 1), "content_html"},
		{"json no items", JSONName, strings.Replace(goodJSON, `"items":[{"id":"1","url":"https://e.com/p/","title":"P","content_html":"<p>x</p>","date_published":"2006-01-02T15:04:05Z"}]`, `"x":1`, 1), "items"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Lint(&Output{Files: []File{{Name: tt.file, Data: []byte(tt.data)}}})
			if tt.want == "" {
				if len(got) != 0 {
					t.Errorf("problems %v, want none", got)
				}
				return
			}
			if len(got) == 0 || !strings.Contains(got[0].Msg, tt.want) || got[0].File != tt.file {
				t.Errorf("problems %v, want one on %s mentioning %q", got, tt.file, tt.want)
			}
		})
	}
}
