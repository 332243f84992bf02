package feed

import (
	"bufio"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/gorilla/feeds"
)

// XML namespaces used by the RSS and Atom documents.
const (
	nsAtom    = "http://www.w3.org/2005/Atom"
	nsContent = "http://purl.org/rss/1.0/modules/content/"
	nsDC      = "http://purl.org/dc/elements/1.1/"
)

// rssDoc is gorilla/feeds' <rss> wrapper with the atom and dc namespaces
// that RSS 2.0 feeds need for atom:link and dc:creator.
type rssDoc struct {
	XMLName   xml.Name `xml:"rss"`
	Version   string   `xml:"version,attr"`
	NSContent string   `xml:"xmlns:content,attr"`
	NSAtom    string   `xml:"xmlns:atom,attr"`
	NSDC      string   `xml:"xmlns:dc,attr"`
	Channel   *rssChannel
}

// rssChannel extends feeds.RssFeed with atom:link elements (self, hub) and
// items that carry several categories.
type rssChannel struct {
	*feeds.RssFeed
	AtomLinks []rssAtomLink
	Items     []*rssItem `xml:"item"`
}

type rssAtomLink struct {
	XMLName xml.Name `xml:"atom:link"`
	Href    string   `xml:"href,attr"`
	Rel     string   `xml:"rel,attr"`
	Type    string   `xml:"type,attr,omitempty"`
}

// rssItem extends feeds.RssItem with several <category> elements (its own
// Category field, a single string, is shadowed) and dc:creator. Its
// Content is shadowed too, by a cdataElem (encoding/xml copies a ",cdata"
// string whole before writing it); Author, Guid and PubDate, which come
// after Content in feeds.RssItem, are shadowed as well so that the elements
// keep their order.
type rssItem struct {
	*feeds.RssItem
	Content    *cdataElem `xml:"content:encoded"`
	Author     string     `xml:"author,omitempty"`
	Guid       *feeds.RssGuid
	PubDate    string   `xml:"pubDate,omitempty"`
	Categories []string `xml:"category"`
	Creator    string   `xml:"dc:creator,omitempty"`
}

// cdataElem is an element whose text is written as a CDATA section, the
// way encoding/xml writes a ",cdata" field, but without copying the text:
// it goes straight into buf, the writer the document's encoder writes to.
// With shared, buf is the encoder's own buffer (a *bufio.Writer given to
// xml.NewEncoder, which uses it as it is): nothing needs flushing first.
type cdataElem struct {
	buf    feedBuf
	text   string
	attr   []xml.Attr
	shared bool
}

// feedBuf is what feed bytes are written to: the *bufio.Writer of a file
// being built, or a *bytes.Buffer.
type feedBuf interface {
	io.Writer
	io.ByteWriter
	io.StringWriter
	AvailableBuffer() []byte
}

// MarshalXML implements xml.Marshaler.
func (c *cdataElem) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	start.Attr = append(start.Attr, c.attr...)
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if !c.shared {
		if err := e.Flush(); err != nil { // what the encoder holds goes first
			return err
		}
	}
	writeCDATA(c.buf, c.text)
	return e.EncodeToken(start.End())
}

// writeCDATA writes s as encoding/xml writes a ",cdata" field: nothing for
// "", else one CDATA section, split where s holds "]]>".
func writeCDATA(buf feedBuf, s string) {
	if s == "" {
		return
	}
	const start, end, escape = "<![CDATA[", "]]>", "]]]]><![CDATA[>"
	buf.WriteString(start)
	for {
		before, after, ok := strings.Cut(s, end)
		if !ok {
			break
		}
		buf.WriteString(before)
		buf.WriteString(escape)
		s = after
	}
	buf.WriteString(s)
	buf.WriteString(end)
}

// FeedXml implements feeds.XmlFeed.
func (d *rssDoc) FeedXml() any { return d }

func writeRSS(buf *bufio.Writer, d *feedDoc) error {
	site := d.site
	ch := &rssChannel{
		RssFeed: &feeds.RssFeed{
			Title:       xmlSafe(d.title),
			Link:        d.home,
			Description: xmlSafe(d.desc),
			Language:    site.Language,
			Generator:   Generator,
		},
		AtomLinks: []rssAtomLink{{Href: d.selfURL(d.rss), Rel: "self", Type: "application/rss+xml"}},
		Items:     make([]*rssItem, 0, len(d.items)),
	}
	if len(d.items) > 0 {
		ch.PubDate = d.published.Format(time.RFC1123Z)
		ch.LastBuildDate = d.updated.Format(time.RFC1123Z)
	}
	if site.Email != "" {
		ch.ManagingEditor = rssPerson(site.Email, site.Author)
	}
	if d.cfg.Hub != "" {
		ch.AtomLinks = append(ch.AtomLinks, rssAtomLink{Href: d.cfg.Hub, Rel: "hub"})
	}
	for _, x := range d.items {
		p := x.post
		perma := "false"
		if x.id == p.URL {
			perma = "true"
		}
		it := &rssItem{
			RssItem: &feeds.RssItem{
				Title:       x.xTitle,
				Link:        p.URL,
				Description: x.xSummary,
			},
			Guid:       &feeds.RssGuid{Id: x.id, IsPermaLink: perma},
			PubDate:    p.Date.In(d.loc).Format(time.RFC1123Z),
			Categories: x.xTerms,
		}
		if x.xHTML != "" {
			it.Content = &cdataElem{buf: buf, text: x.xHTML, shared: true}
		}
		switch author := p.Author; {
		case site.Email != "" && (author == "" || author == site.Author):
			it.Author = rssPerson(site.Email, site.Author)
		case author != "":
			it.Creator = x.xAuthor
		case site.Author != "":
			it.Creator = xmlSafe(site.Author)
		}
		ch.Items = append(ch.Items, it)
	}
	return encodeXML(buf, &rssDoc{
		Version:   "2.0",
		NSContent: nsContent,
		NSAtom:    nsAtom,
		NSDC:      nsDC,
		Channel:   ch,
	})
}

// rssPerson is RSS 2.0's author form: "email (Name)".
func rssPerson(email, name string) string {
	if name == "" {
		return email
	}
	return xmlSafe(email + " (" + name + ")")
}

// encodeXML writes the XML declaration and the indented document of a
// gorilla/feeds XmlFeed, ending with a newline. The encoder writes to buf
// itself (xml.NewEncoder keeps a *bufio.Writer of 4096 bytes or more as
// it is), which the document's cdataElems share.
func encodeXML(buf *bufio.Writer, f feeds.XmlFeed) error {
	if buf.Size() < 4096 {
		return errors.New("encodeXML: buffer too small to be shared with the encoder")
	}
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(buf)
	enc.Indent("", "  ")
	if err := enc.Encode(f.FeedXml()); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	buf.WriteByte('\n')
	return nil
}
