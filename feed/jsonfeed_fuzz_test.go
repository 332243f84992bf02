package feed

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/feeds"
)

// FuzzJSONFeed is the differential test of the one-pass JSON Feed encoder
// (jsonDoc.encode) against the library it shadows: encoding/json with
// SetEscapeHTML(false) and a two-space indent must give the same bytes for
// any strings in any of the fields Herald sets.
//
//	go test ./feed -run '^$' -fuzz FuzzJSONFeed -fuzztime 30s
func FuzzJSONFeed(f *testing.F) {
	f.Add("Title", "<p>Hi &amp; bye</p>", "Hi", "go json", "Ann", "https://x/i.png", "https://hub/", int64(0))
	f.Add("", "", "", "", "", "", "", int64(-1))
	f.Add("odd \u2028 \u2029 \x00 \x1f \\ \" \t\r\n </script>", "bad \xff utf8 \xc3", "é😀", "a\x7fb c", "\"q\"", "", "", int64(1700000000123456789))
	f.Fuzz(func(t *testing.T, title, content, summary, tags, author, image, hub string, unix int64) {
		when := time.Unix(0, unix).In(time.FixedZone("X", 5*3600+30*60))
		doc := &jsonDoc{
			JSONFeed: &feeds.JSONFeed{
				Version: jsonFeedVersion, Title: title, Language: summary, HomePageUrl: image,
				FeedUrl: hub, Description: content, Icon: author, Favicon: tags,
				Authors: []*feeds.JSONAuthor{{Name: author, Url: image, Avatar: title}},
			},
			Items: []*feeds.JSONItem{},
		}
		if hub != "" {
			doc.Hubs = []*feeds.JSONHub{{Type: "WebSub", Url: hub}}
		}
		for i := range 3 {
			it := &feeds.JSONItem{
				Id: title, Url: image, ExternalUrl: hub, Title: title, ContentHTML: content,
				Summary: summary, Image: image, Tags: strings.Fields(tags),
			}
			switch i {
			case 0:
				it.PublishedDate, it.ModifiedDate = &when, &when
				it.Authors = []*feeds.JSONAuthor{{Name: author}}
			case 1:
				it.ContentHTML, it.ContentText = "", content
				it.Tags = []string{}
			case 2:
				it.Authors = []*feeds.JSONAuthor{}
			}
			doc.Items = append(doc.Items, it)
		}
		var got, want bytes.Buffer
		doc.encode(&got)
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			t.Skip(err) // a time encoding/json cannot write (year outside 0–9999)
		}
		if w := stdJSONForm(want.Bytes()); !bytes.Equal(got.Bytes(), w) {
			t.Errorf("one-pass JSON differs from encoding/json:\n got %s\nwant %s", got.Bytes(), w)
		}
	})
}
