package feed

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	_ "time/tzdata" // site.timezone must load on machines without a zoneinfo database
)

// DefaultSite returns the [site] defaults: timezone "UTC", language "en",
// permalink "/:year/:month/:day/:title/". Title and URL have no default.
func DefaultSite() Site {
	return Site{
		Language:  "en",
		Timezone:  "UTC",
		Permalink: "/:year/:month/:day/:title/",
	}
}

// Validate checks the [site] section and normalises it: site.url loses its
// trailing "/", site.baseurl its trailing "/" ("/" alone becomes ""), and
// site.timezone is loaded for Location. Every problem is reported, each
// naming its key.
func (s *Site) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	s.Title = strings.TrimSpace(s.Title)
	if s.Title == "" {
		bad("site.title: required")
	}
	if err := checkAbsURL(s.URL, false); err != nil {
		bad("site.url: %w, got %q", err, s.URL)
	} else {
		s.URL = strings.TrimRight(s.URL, "/")
	}
	if s.BaseURL != "" {
		if !strings.HasPrefix(s.BaseURL, "/") || strings.HasPrefix(s.BaseURL, "//") {
			bad("site.baseurl: must be empty or a path starting with a single \"/\", got %q", s.BaseURL)
		} else {
			s.BaseURL = strings.TrimRight(s.BaseURL, "/")
		}
	}
	if s.Timezone == "" {
		s.Timezone = "UTC"
	}
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		bad("site.timezone: unknown time zone %q (use an IANA name such as \"Europe/Berlin\" or \"UTC\")", s.Timezone)
	} else {
		s.loc = loc
	}
	if s.Language == "" {
		s.Language = "en"
	}
	if strings.TrimSpace(s.Permalink) == "" {
		bad("site.permalink: required (a Jekyll style such as \"pretty\" or a pattern such as \"/:year/:month/:day/:title/\")")
	} else if unknown := unknownPlaceholders(permalinkTemplate(s.Permalink, true)); len(unknown) > 0 {
		bad("site.permalink: unknown placeholder %s in %q (known: %s)", strings.Join(unknown, ", "), s.Permalink, knownPlaceholderList())
	}
	return errors.Join(errs...)
}

// checkAbsURL reports why raw is not an absolute http(s) URL with a host
// (and, unless query is set, without a query).
func checkAbsURL(raw string, query bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return errors.New("must be an absolute http(s) URL")
	}
	if (!query && u.RawQuery != "") || u.Fragment != "" {
		return errors.New("must be an absolute http(s) URL without a query or fragment")
	}
	return nil
}

// Location is the site's time zone: post dates written without an offset are
// in it, and so are every Post.Date and Post.Updated. It is UTC until
// Validate has loaded site.timezone (or when the name does not load).
func (s *Site) Location() *time.Location {
	if s.loc != nil {
		return s.loc
	}
	if s.Timezone != "" {
		if loc, err := time.LoadLocation(s.Timezone); err == nil {
			return loc
		}
	}
	return time.UTC
}

// DefaultPosts returns the [posts] defaults: dir "posts", max_size 4MB,
// render_timeout 10s.
func DefaultPosts() PostsConfig {
	return PostsConfig{Dir: "posts", MaxSize: DefaultMaxPostSize, RenderTimeout: Duration{DefaultRenderTimeout}}
}

// Validate checks the [posts] section.
func (c *PostsConfig) Validate() error {
	var errs []error
	if strings.TrimSpace(c.Dir) == "" {
		errs = append(errs, errors.New("posts.dir: required (the folder holding the posts, e.g. \"posts\" or \"_posts\")"))
	}
	if c.MaxSize <= 0 {
		errs = append(errs, fmt.Errorf("posts.max_size: must be more than 0, got %s", c.MaxSize))
	}
	if c.RenderTimeout.Duration <= 0 {
		errs = append(errs, fmt.Errorf("posts.render_timeout: must be more than 0, got %s", c.RenderTimeout.Duration))
	}
	return errors.Join(errs...)
}

// DefaultFeeds returns the [feeds] defaults: dir "public", limit 20, full
// content, max_age 5m, no tag feeds, no hub. URL defaults to the site's URL
// in Validate.
func DefaultFeeds() FeedsConfig {
	return FeedsConfig{
		Dir:         "public",
		Limit:       20,
		FullContent: true,
		MaxAge:      Duration{5 * time.Minute},
		RSS:         RSSName,
		Atom:        AtomName,
		JSON:        JSONName,
		IDs:         IDsPermalink,
		Categories:  []string{},
		ByTagOnly:   []string{},
		ByTagExcept: []string{},
	}
}

// Validate checks the [feeds] section against a validated site: feeds.url
// defaults to site.url + site.baseurl and loses its trailing "/".
func (c *FeedsConfig) Validate(site *Site) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if strings.TrimSpace(c.Dir) == "" {
		bad("feeds.dir: required (the folder feed.xml, atom.xml and feed.json are written to)")
	}
	if c.Limit < 0 {
		bad("feeds.limit: must be 0 (all posts) or more, got %d", c.Limit)
	}
	if c.MaxAge.Duration < 0 {
		bad("feeds.max_age: must not be negative, got %s", c.MaxAge.Duration)
	}
	if c.URL == "" && site != nil {
		c.URL = strings.TrimRight(site.URL, "/") + site.BaseURL
	}
	if err := checkAbsURL(c.URL, false); err != nil {
		bad("feeds.url: %w, got %q", err, c.URL)
	} else {
		c.URL = strings.TrimRight(c.URL, "/")
	}
	if c.Hub != "" {
		if err := checkAbsURL(c.Hub, true); err != nil {
			bad("feeds.hub: %w, got %q", err, c.Hub)
		}
	}
	switch c.IDs {
	case "":
		c.IDs = IDsPermalink
	case IDsPermalink, IDsJekyll:
	default:
		bad("feeds.ids: must be %q or %q, got %q", IDsPermalink, IDsJekyll, c.IDs)
	}
	seen := map[string]string{}
	for _, f := range []struct{ key, name, ext string }{
		{"feeds.rss", c.RSS, ".xml"}, {"feeds.atom", c.Atom, ".xml"}, {"feeds.json", c.JSON, ".json"},
	} {
		if f.name == "" {
			continue
		}
		switch {
		case !validName(f.name) || strings.HasPrefix(f.name, "tags/"):
			bad("%s: must be a relative file path such as \"feed%s\" (not under tags/), got %q", f.key, f.ext, f.name)
		case seen[f.name] != "":
			bad("%s: %q is already %s", f.key, f.name, seen[f.name])
		}
		seen[f.name] = f.key
	}
	if c.RSS == "" && c.Atom == "" && c.JSON == "" {
		bad("feeds.rss, feeds.atom, feeds.json: at least one feed must have a name")
	}
	if c.ByTag != "" {
		c.ByTag = strings.Trim(c.ByTag, "/") + "/"
		if !validName(c.ByTag + "x.xml") {
			bad("feeds.by_tag: must be a relative folder path such as \"feed/by_tag/\", got %q", c.ByTag)
		}
	}
	for _, cat := range c.Categories {
		if !validName("feed/" + cat + ".xml") {
			bad("feeds.categories: %q cannot be a file name", cat)
		}
	}
	return errors.Join(errs...)
}
