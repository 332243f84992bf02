package feed

import (
	"bufio"
	"cmp"
	"encoding/xml"
	"time"

	"github.com/gorilla/feeds"
)

// atomDoc extends feeds.AtomFeed (whose single Link is left nil) with
// xml:lang, several links (self, alternate, hub), a generator and entries
// that carry published dates and term= categories.
type atomDoc struct {
	*feeds.AtomFeed
	Lang      string `xml:"xml:lang,attr,omitempty"`
	Links     []feeds.AtomLink
	Generator string       `xml:"generator"`
	Entries   []*atomEntry `xml:"entry"`
}

// atomEntry extends feeds.AtomEntry with RFC 4287 categories (its own
// Category field, written as text, is shadowed) and content written as
// CDATA, which is smaller and much faster to write than escaped text.
type atomEntry struct {
	*feeds.AtomEntry
	Content    *cdataElem `xml:"content"`
	Categories []atomCategory
}

type atomCategory struct {
	XMLName xml.Name `xml:"category"`
	Term    string   `xml:"term,attr"`
}

// FeedXml implements feeds.XmlFeed.
func (d *atomDoc) FeedXml() any { return d }

func writeAtom(buf *bufio.Writer, d *feedDoc) error {
	site := d.site
	doc := &atomDoc{
		AtomFeed: &feeds.AtomFeed{
			Xmlns:    nsAtom,
			Title:    xmlSafe(d.title),
			Id:       d.id,
			Updated:  d.updated.Format(time.RFC3339),
			Subtitle: xmlSafe(site.Description),
			Author: &feeds.AtomAuthor{AtomPerson: feeds.AtomPerson{
				Name:  xmlSafe(d.authorName()),
				Email: site.Email,
				Uri:   cmp.Or(site.authorURI, d.home),
			}},
		},
		Lang: site.Language,
		Links: []feeds.AtomLink{
			{Href: d.selfURL(d.atom), Rel: "self", Type: "application/atom+xml"},
			{Href: d.home, Rel: "alternate", Type: "text/html"},
		},
		Generator: Generator,
		Entries:   make([]*atomEntry, 0, len(d.items)),
	}
	if d.sub {
		doc.Subtitle = xmlSafe(d.desc)
	}
	if d.cfg.Hub != "" {
		doc.Links = append(doc.Links, feeds.AtomLink{Href: d.cfg.Hub, Rel: "hub"})
	}
	for _, x := range d.items {
		p := x.post
		ae := &atomEntry{AtomEntry: &feeds.AtomEntry{
			Title:     x.xTitle,
			Id:        x.id,
			Updated:   p.Modified().In(d.loc).Format(time.RFC3339),
			Published: p.Date.In(d.loc).Format(time.RFC3339),
			Links:     []feeds.AtomLink{{Href: p.URL, Rel: "alternate", Type: "text/html"}},
		}}
		if x.xSummary != "" {
			ae.Summary = &feeds.AtomSummary{Type: "html", Content: x.xSummary}
		}
		if x.xHTML != "" {
			ae.Content = &cdataElem{buf: buf, text: x.xHTML, attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: "html"}}, shared: true}
		}
		// Every entry names its author: readers (newsboat, feedparser) do
		// not show the feed-level one on entries.
		ae.Author = &feeds.AtomAuthor{AtomPerson: feeds.AtomPerson{Name: cmp.Or(x.xAuthor, xmlSafe(d.authorName()))}}
		for _, t := range x.xTerms {
			ae.Categories = append(ae.Categories, atomCategory{Term: t})
		}
		doc.Entries = append(doc.Entries, ae)
	}
	return encodeXML(buf, doc)
}
