package feed

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"testing"
	"unicode/utf8"

	"github.com/gorilla/feeds"
)

// TestRSSItemLikeGorilla checks that rssItem, which shadows Content and the
// fields after it, writes exactly what feeds.RssItem with a ",cdata"
// content writes (plus the categories and dc:creator that follow), and that
// Atom's content is what a ",cdata" field gives.
func TestRSSItemLikeGorilla(t *testing.T) {
	type oldItem struct {
		*feeds.RssItem
		Categories []string `xml:"category"`
		Creator    string   `xml:"dc:creator,omitempty"`
	}
	type oldAtomContent struct {
		XMLName xml.Name `xml:"content"`
		Content string   `xml:",cdata"`
		Type    string   `xml:"type,attr"`
	}
	type atomWrap struct {
		XMLName xml.Name `xml:"entry"`
		Title   string   `xml:"title"`
		Content any      `xml:"content"`
		After   string   `xml:"after"`
	}
	tests := []struct {
		name, html, author, creator string
		cats                        []string
	}{
		{"full", "<p>a ]]> b</p>\n<p>c</p>", "me@example.com (Me)", "", []string{"Go", "Feeds"}},
		{"creator", "<p>x</p>", "", "Someone", nil},
		{"no content", "", "", "", []string{"a"}},
		{"cdata end", "]]>]]>", "a@b", "c", nil},
	}
	enc := func(t *testing.T, v func(*bytes.Buffer) any) string {
		t.Helper()
		var b bytes.Buffer
		b.WriteString("<x>")
		e := xml.NewEncoder(&b)
		e.Indent("", "  ")
		if err := e.Encode(v(&b)); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			guid := &feeds.RssGuid{Id: "https://x/p/", IsPermaLink: "true"}
			want := enc(t, func(*bytes.Buffer) any {
				old := &oldItem{RssItem: &feeds.RssItem{
					Title: "T", Link: "https://x/p/", Description: "<p>s</p>", Author: tt.author,
					Guid: guid, PubDate: "Mon, 02 Jan 2006 15:04:05 +0000",
				}, Categories: tt.cats, Creator: tt.creator}
				if tt.html != "" {
					old.Content = &feeds.RssContent{Content: tt.html}
				}
				return old
			})
			got := enc(t, func(b *bytes.Buffer) any {
				cur := &rssItem{RssItem: &feeds.RssItem{Title: "T", Link: "https://x/p/", Description: "<p>s</p>"},
					Author: tt.author, Guid: guid, PubDate: "Mon, 02 Jan 2006 15:04:05 +0000",
					Categories: tt.cats, Creator: tt.creator}
				if tt.html != "" {
					cur.Content = &cdataElem{buf: b, text: tt.html}
				}
				return cur
			})
			if got != want {
				t.Errorf("RSS item:\n%s\nwant\n%s", got, want)
			}
			got = enc(t, func(b *bytes.Buffer) any {
				return atomWrap{Title: "T", After: "a", Content: &cdataElem{buf: b, text: tt.html,
					attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: "html"}}}}
			})
			want = enc(t, func(*bytes.Buffer) any {
				return atomWrap{Title: "T", After: "a", Content: &oldAtomContent{Content: tt.html, Type: "html"}}
			})
			if got != want {
				t.Errorf("Atom content:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestXMLSafe compares xmlSafe, which skips printable ASCII eight bytes at
// a time, with a rune-by-rune filter.
func TestXMLSafe(t *testing.T) {
	for _, s := range []string{"", "plain ascii text that is long enough", "a\x00b", "tab\tnl\ncr\r", "é ü 日本 \U0001F600",
		"0123456789abcdef\x01", "bad \xff utf8 in a longer string", "\ufffe\uffff", "12345678\x7f12345678", "1234567\x1f",
		"abcdefgh\x0bijklmnop", "abcdefg\u00e9hijklmnop\x1f"} {
		var want bytes.Buffer
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			if xmlChar(r) && !(r == utf8.RuneError && n == 1) {
				want.WriteString(s[i : i+n])
			}
			i += n
		}
		if got := xmlSafe(s); got != want.String() {
			t.Errorf("xmlSafe(%q) = %q, want %q", s, got, want.String())
		}
	}
}

// TestJSONStringLong compares jsonString, which skips plain ASCII eight bytes at
// a time, with encoding/json without HTML escaping.
func TestJSONStringLong(t *testing.T) {
	for _, s := range []string{"", "plain ascii text that is long enough", `quote " in the middle of it`, `back\slash in a long string`,
		"ctrl \x01 and tab\t and nl\n in here", "é ü 日本 \U0001F600 and more text", "bad \xff utf8 in a longer string",
		"line\u2028sep\u2029 in text long", "12345678\x7f12345678", `<a href="x">1234567</a>`} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		jsonString(&got, s)
		if w := string(stdJSONForm(want.Bytes())); got.String()+"\n" != w {
			t.Errorf("jsonString(%q) = %s, want %s", s, got.String(), w)
		}
	}
}

// TestIndexSpecial compares indexSpecial, which skips eight bytes at a time,
// with a byte-by-byte search.
func TestIndexSpecial(t *testing.T) {
	for _, s := range []string{"", "a", "plain text without any of them", "12345678{", "1234567`", "<", "abcdefghijklmn<op{q`",
		"é and 日本 then {{ x }}", "no specials but \xff bytes here"} {
		if got, want := indexSpecial([]byte(s)), bytes.IndexAny([]byte(s), "`{<"); got != want {
			t.Errorf("indexSpecial(%q) = %d, want %d", s, got, want)
		}
	}
}
