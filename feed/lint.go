package feed

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"
)

// Lint checks generated feeds against the rules Herald promises: RSS 2.0
// with atom:link rel=self and per-item guid and RFC 822 dates, Atom 1.0 with
// ids, self link, authors and updated times, JSON Feed 1.1 with feed_url and
// items carrying id, url, content and dates. It returns one problem per
// violation, with the feed file's name.
func Lint(out *Output) []Problem {
	var ps []Problem
	for _, f := range out.Files {
		var errs []string
		kind := f.ContentType
		if kind == "" {
			kind = map[string]string{RSSName: RSSType, AtomName: AtomType, JSONName: JSONType}[path.Base(f.Name)]
		}
		switch kind {
		case RSSType:
			errs = lintRSS(f.Data)
		case AtomType:
			errs = lintAtom(f.Data)
		case JSONType:
			errs = lintJSON(f.Data)
		}
		for _, e := range errs {
			ps = append(ps, Problem{File: f.Name, Msg: e})
		}
	}
	return ps
}

func absURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func lintRSS(data []byte) []string {
	var doc struct {
		XMLName xml.Name `xml:"rss"`
		Version string   `xml:"version,attr"`
		Channel struct {
			Title       string `xml:"title"`
			Description string `xml:"description"`
			// RSS <link> and <atom:link> share a local name: encoding/xml
			// cannot tell them apart by tag, so both land here.
			Links []struct {
				XMLName xml.Name
				Rel     string `xml:"rel,attr"`
				Href    string `xml:"href,attr"`
				Value   string `xml:",chardata"`
			} `xml:"link"`
			Items []struct {
				Title string `xml:"title"`
				Link  string `xml:"link"`
				GUID  struct {
					Value     string `xml:",chardata"`
					PermaLink string `xml:"isPermaLink,attr"`
				} `xml:"guid"`
				PubDate     string `xml:"pubDate"`
				Description string `xml:"description"`
			} `xml:"item"`
		} `xml:"channel"`
	}
	if err := xml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return []string{"RSS does not parse: " + err.Error()}
	}
	var errs []string
	ch := doc.Channel
	if doc.Version != "2.0" {
		errs = append(errs, fmt.Sprintf("RSS version is %q, want 2.0", doc.Version))
	}
	self, link := false, false
	for _, l := range ch.Links {
		if l.XMLName.Space == "http://www.w3.org/2005/Atom" {
			self = self || (l.Rel == "self" && absURL(l.Href))
		} else {
			link = link || absURL(l.Value)
		}
	}
	if ch.Title == "" || !link || ch.Description == "" {
		errs = append(errs, "RSS channel needs a title, an absolute link and a description")
	}
	if !self {
		errs = append(errs, "RSS channel has no atom:link rel=\"self\"")
	}
	for i, it := range ch.Items {
		where := fmt.Sprintf("RSS item %d (%q)", i+1, it.Title)
		if it.Title == "" || !absURL(it.Link) {
			errs = append(errs, where+": needs a title and an absolute link")
		}
		if it.GUID.Value == "" {
			errs = append(errs, where+": no guid")
		} else if it.GUID.PermaLink != "false" && !absURL(it.GUID.Value) {
			errs = append(errs, where+": a guid that is not a URL needs isPermaLink=\"false\"")
		}
		if _, err := time.Parse(time.RFC1123Z, it.PubDate); err != nil {
			errs = append(errs, where+": pubDate is not RFC 822 with a numeric zone: "+it.PubDate)
		}
		if it.Description == "" {
			errs = append(errs, where+": no description")
		}
	}
	return errs
}

func lintAtom(data []byte) []string {
	type link struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	}
	var doc struct {
		XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
		ID      string   `xml:"id"`
		Title   string   `xml:"title"`
		Updated string   `xml:"updated"`
		Links   []link   `xml:"link"`
		Authors []struct {
			Name string `xml:"name"`
		} `xml:"author"`
		Entries []struct {
			ID        string `xml:"id"`
			Title     string `xml:"title"`
			Updated   string `xml:"updated"`
			Published string `xml:"published"`
			Links     []link `xml:"link"`
			Authors   []struct {
				Name string `xml:"name"`
			} `xml:"author"`
		} `xml:"entry"`
	}
	if err := xml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return []string{"Atom does not parse: " + err.Error()}
	}
	var errs []string
	if doc.ID == "" || doc.Title == "" {
		errs = append(errs, "Atom feed needs an id and a title")
	}
	if _, err := time.Parse(time.RFC3339, doc.Updated); err != nil {
		errs = append(errs, "Atom feed updated is not RFC 3339: "+doc.Updated)
	}
	rels := map[string]bool{}
	for _, l := range doc.Links {
		if absURL(l.Href) {
			rels[l.Rel] = true
		}
	}
	if !rels["self"] || !rels["alternate"] {
		errs = append(errs, "Atom feed needs absolute self and alternate links")
	}
	for i, e := range doc.Entries {
		where := fmt.Sprintf("Atom entry %d (%q)", i+1, e.Title)
		if e.ID == "" || e.Title == "" {
			errs = append(errs, where+": needs an id and a title")
		}
		for _, t := range []string{e.Updated, e.Published} {
			if _, err := time.Parse(time.RFC3339, t); err != nil {
				errs = append(errs, where+": updated/published is not RFC 3339: "+t)
			}
		}
		if len(doc.Authors) == 0 && len(e.Authors) == 0 {
			errs = append(errs, where+": no author (and the feed has none)")
		}
		alt := false
		for _, l := range e.Links {
			alt = alt || ((l.Rel == "" || l.Rel == "alternate") && absURL(l.Href))
		}
		if !alt {
			errs = append(errs, where+": no absolute alternate link")
		}
	}
	return errs
}

func lintJSON(data []byte) []string {
	var doc struct {
		Version     string `json:"version"`
		Title       string `json:"title"`
		HomePageURL string `json:"home_page_url"`
		FeedURL     string `json:"feed_url"`
		Items       []struct {
			ID            *string `json:"id"`
			URL           string  `json:"url"`
			Title         string  `json:"title"`
			ContentHTML   *string `json:"content_html"`
			ContentText   *string `json:"content_text"`
			DatePublished string  `json:"date_published"`
		} `json:"items"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return []string{"JSON Feed does not parse: " + err.Error()}
	}
	var errs []string
	if doc.Version != "https://jsonfeed.org/version/1.1" {
		errs = append(errs, "JSON Feed version is "+doc.Version)
	}
	if doc.Title == "" || !absURL(doc.HomePageURL) || !absURL(doc.FeedURL) {
		errs = append(errs, "JSON Feed needs a title, home_page_url and feed_url")
	}
	if doc.Items == nil && !strings.Contains(string(data), `"items"`) {
		errs = append(errs, "JSON Feed has no items array")
	}
	seen := map[string]bool{}
	for i, it := range doc.Items {
		where := fmt.Sprintf("JSON Feed item %d (%q)", i+1, it.Title)
		switch {
		case it.ID == nil || *it.ID == "":
			errs = append(errs, where+": no id")
		case seen[*it.ID]:
			errs = append(errs, where+": duplicate id "+*it.ID)
		default:
			seen[*it.ID] = true
		}
		if !absURL(it.URL) {
			errs = append(errs, where+": url is not absolute")
		}
		if it.ContentHTML == nil && it.ContentText == nil {
			errs = append(errs, where+": needs content_html or content_text")
		}
		if _, err := time.Parse(time.RFC3339, it.DatePublished); err != nil {
			errs = append(errs, where+": date_published is not RFC 3339: "+it.DatePublished)
		}
	}
	return errs
}
