package feed

import (
	"strings"
	"testing"
	"time"
)

// loaderSite is a validated site for the loader's tests: https://example.com
// with baseurl /blog, in zone tz, with the given permalink ("" = default).
func loaderSite(t testing.TB, tz, permalink string) *Site {
	t.Helper()
	s := DefaultSite()
	s.Title = "Example"
	s.URL = "https://example.com/"
	s.BaseURL = "/blog"
	if tz != "" {
		s.Timezone = tz
	}
	if permalink != "" {
		s.Permalink = permalink
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("site.Validate: %v", err)
	}
	return &s
}

func TestSiteValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(s *Site)
		wantErr string // substring; "" = valid
		check   func(t *testing.T, s *Site)
	}{
		{name: "defaults with title and url", edit: func(s *Site) {}, check: func(t *testing.T, s *Site) {
			if s.URL != "https://example.com" {
				t.Errorf("URL = %q, want trailing slash trimmed", s.URL)
			}
			if s.Location().String() != "UTC" {
				t.Errorf("Location = %v, want UTC", s.Location())
			}
		}},
		{name: "missing title", edit: func(s *Site) { s.Title = "  " }, wantErr: "site.title: required"},
		{name: "relative url", edit: func(s *Site) { s.URL = "example.com" },
			wantErr: `site.url: must be an absolute http(s) URL, got "example.com"`},
		{name: "ftp url", edit: func(s *Site) { s.URL = "ftp://example.com" }, wantErr: "site.url: must be an absolute http(s) URL"},
		{name: "url with query", edit: func(s *Site) { s.URL = "https://example.com/?a=b" }, wantErr: "site.url:"},
		{name: "empty url", edit: func(s *Site) { s.URL = "" }, wantErr: "site.url:"},
		{name: "http url with path", edit: func(s *Site) { s.URL = "http://example.com/me/" }, check: func(t *testing.T, s *Site) {
			if s.URL != "http://example.com/me" {
				t.Errorf("URL = %q", s.URL)
			}
		}},
		{name: "baseurl without slash", edit: func(s *Site) { s.BaseURL = "blog" }, wantErr: "site.baseurl:"},
		{name: "baseurl trailing slash", edit: func(s *Site) { s.BaseURL = "/blog/" }, check: func(t *testing.T, s *Site) {
			if s.BaseURL != "/blog" {
				t.Errorf("BaseURL = %q, want /blog", s.BaseURL)
			}
		}},
		{name: "baseurl slash only", edit: func(s *Site) { s.BaseURL = "/" }, check: func(t *testing.T, s *Site) {
			if s.BaseURL != "" {
				t.Errorf("BaseURL = %q, want empty", s.BaseURL)
			}
		}},
		{name: "timezone", edit: func(s *Site) { s.Timezone = "America/Sao_Paulo" }, check: func(t *testing.T, s *Site) {
			if got := s.Location().String(); got != "America/Sao_Paulo" {
				t.Errorf("Location = %q", got)
			}
		}},
		{name: "bad timezone", edit: func(s *Site) { s.Timezone = "Mars/Olympus" }, wantErr: `site.timezone: unknown time zone "Mars/Olympus"`},
		{name: "empty permalink", edit: func(s *Site) { s.Permalink = "" }, wantErr: "site.permalink: required"},
		{name: "permalink style", edit: func(s *Site) { s.Permalink = "pretty" }},
		{name: "permalink typo", edit: func(s *Site) { s.Permalink = "/:year/:titel/" }, wantErr: `site.permalink: unknown placeholder :titel`},
		{name: "several errors", edit: func(s *Site) { s.Title = ""; s.URL = "x" }, wantErr: "site.title: required\nsite.url:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSite()
			s.Title = "Example"
			s.URL = "https://example.com/"
			tt.edit(&s)
			err := s.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, &s)
			}
		})
	}
}

func TestSiteLocationWithoutValidate(t *testing.T) {
	s := Site{Timezone: "Asia/Tokyo"}
	if got := s.Location().String(); got != "Asia/Tokyo" {
		t.Errorf("Location() = %q, want Asia/Tokyo", got)
	}
	s = Site{Timezone: "nowhere"}
	if got := s.Location(); got != time.UTC {
		t.Errorf("Location() = %v, want UTC for an unknown zone", got)
	}
}

func TestPostsValidate(t *testing.T) {
	c := DefaultPosts()
	if c.Dir != "posts" {
		t.Errorf("DefaultPosts().Dir = %q, want posts", c.Dir)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
	c.Dir = " "
	if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "posts.dir: ") {
		t.Errorf("Validate() = %v, want a posts.dir error", err)
	}
}

func TestFeedsValidate(t *testing.T) {
	site := loaderSite(t, "", "")
	tests := []struct {
		name    string
		edit    func(c *FeedsConfig)
		wantErr string
		wantURL string
	}{
		{name: "defaults", edit: func(c *FeedsConfig) {}, wantURL: "https://example.com/blog"},
		{name: "explicit url", edit: func(c *FeedsConfig) { c.URL = "https://feeds.example.com/" }, wantURL: "https://feeds.example.com"},
		{name: "relative url", edit: func(c *FeedsConfig) { c.URL = "/feeds" }, wantErr: `feeds.url: must be an absolute http(s) URL, got "/feeds"`},
		{name: "negative limit", edit: func(c *FeedsConfig) { c.Limit = -1 }, wantErr: "feeds.limit: must be 0"},
		{name: "zero limit", edit: func(c *FeedsConfig) { c.Limit = 0 }, wantURL: "https://example.com/blog"},
		{name: "hub", edit: func(c *FeedsConfig) { c.Hub = "https://pubsubhubbub.appspot.com/" }, wantURL: "https://example.com/blog"},
		{name: "bad hub", edit: func(c *FeedsConfig) { c.Hub = "hub.example.com" }, wantErr: "feeds.hub:"},
		{name: "empty dir", edit: func(c *FeedsConfig) { c.Dir = "" }, wantErr: "feeds.dir: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultFeeds()
			tt.edit(&c)
			err := c.Validate(site)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			if c.URL != tt.wantURL {
				t.Errorf("URL = %q, want %q", c.URL, tt.wantURL)
			}
		})
	}
	d := DefaultFeeds()
	if d.Dir != "public" || d.Limit != 20 || !d.FullContent || d.MaxAge.Duration != 5*time.Minute || d.Tags || d.Hub != "" {
		t.Errorf("DefaultFeeds() = %+v", d)
	}
}
