package feed

import (
	"slices"
	"testing"
	"time"
)

func TestExpandPermalink(t *testing.T) {
	// Friday 2023-10-06 04:05:09, day 279 of the year, ISO week 40.
	date := time.Date(2023, 10, 6, 4, 5, 9, 0, time.UTC)
	jan := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		tmpl string
		date time.Time
		slug string
		cats []string
		want string
	}{
		{"default", "/:year/:month/:day/:title/", date, "my-post", nil, "/2023/10/06/my-post/"},
		{"i_month i_day", "/:year/:i_month/:i_day/:title/", jan, "p", nil, "/2024/1/2/p/"},
		{"short_year", "/:short_year/:title", jan, "p", nil, "/24/p"},
		{"time", "/:hour-:minute-:second/:title", date, "p", nil, "/04-05-09/p"},
		{"month names", "/:short_month/:long_month/:short_day/:long_day/", date, "p", nil, "/Oct/October/Fri/Friday/"},
		{"y_day week", "/:y_day/:week/:w_year/:w_day/", date, "p", nil, "/279/40/2023/5/"},
		{"title keeps case", "/:title/", date, "My-Post", nil, "/My-Post/"},
		{"slug lowercases", "/:slug/", date, "My-Post", nil, "/my-post/"},
		{"title pretty keeps dots", "/:title/", date, "v1.2_notes", nil, "/v1.2_notes/"},
		{"slug default drops dots", "/:slug/", date, "v1.2_notes", nil, "/v1-2-notes/"},
		{"unicode title escaped", "/:title/", date, "café-über", nil, "/caf%C3%A9-%C3%BCber/"},
		{"categories", "/:categories/:title/", date, "p", []string{"data", "career"}, "/data/career/p/"},
		{"categories escaped", "/:categories/:title/", date, "p", []string{"data science"}, "/data%20science/p/"},
		{"no categories collapses slashes", "/:categories/:year/:title/", date, "p", nil, "/2023/p/"},
		{"slugified categories", "/:slugified_categories/:title/", date, "p", []string{"Data Science"}, "/data-science/p/"},
		{"html ending stays", "/:year/:title.html", date, "p", nil, "/2023/p.html"},
		{"output_ext", "/:title:output_ext", date, "p", nil, "/p.html"},
		{"no leading slash", "blog/:title", date, "p", nil, "/blog/p"},
		{"double slashes collapse", "//a//:title//", date, "p", nil, "/a/p/"},
		{"dot dot removed", "/../:title/", date, "p", nil, "/p/"},
		{"literal space escaped", "/my posts/:title/", date, "p", nil, "/my%20posts/p/"},
		{"literal escape kept", "/a%20b/:title/", date, "p", nil, "/a%20b/p/"},
		{"unknown kept", "/:year/:nope/:title/", date, "p", nil, "/2023/:nope/p/"},
		{"fixed path", "/about-this/", date, "p", nil, "/about-this/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := expandPermalink(tt.tmpl, &permalinkVars{date: tt.date, slug: tt.slug, categories: tt.cats})
			if got != tt.want {
				t.Errorf("expandPermalink(%q) = %q, want %q", tt.tmpl, got, tt.want)
			}
		})
	}
}

func TestPermalinkStyles(t *testing.T) {
	date := time.Date(2023, 10, 6, 4, 0, 0, 0, time.UTC)
	v := &permalinkVars{date: date, slug: "my-post", categories: []string{"data"}}
	tests := []struct{ style, want string }{
		{"date", "/data/2023/10/06/my-post.html"},
		{"pretty", "/data/2023/10/06/my-post/"},
		{"ordinal", "/data/2023/279/my-post.html"},
		{"weekdate", "/data/2023/W40/Fri/my-post.html"},
		{"none", "/data/my-post.html"},
		{"/:title/", "/my-post/"},
	}
	for _, tt := range tests {
		t.Run(tt.style, func(t *testing.T) {
			got, unknown := expandPermalink(permalinkTemplate(tt.style, true), v)
			if got != tt.want || len(unknown) > 0 {
				t.Errorf("style %q = %q (unknown %v), want %q", tt.style, got, unknown, tt.want)
			}
		})
	}
	// A front-matter permalink is a pattern, never a style (as in Jekyll).
	if got, _ := expandPermalink(permalinkTemplate("pretty", false), v); got != "/pretty" {
		t.Errorf("front-matter permalink \"pretty\" = %q, want /pretty", got)
	}
}

func TestUnknownPlaceholders(t *testing.T) {
	got := unknownPlaceholders("/:year/:titel/:slug/:categoris")
	want := []string{":titel", ":categoris"}
	if !slices.Equal(got, want) {
		t.Errorf("unknownPlaceholders = %v, want %v", got, want)
	}
}

func TestJekyllSlugify(t *testing.T) {
	tests := []struct {
		in            string
		pretty, cased bool
		want          string
	}{
		{"Hello, World!", false, false, "hello-world"},
		{"Hello, World!", true, true, "Hello,-World!"},
		{"  --a  b--  ", false, false, "a-b"},
		{"Ünïcödé 日本", false, false, "ünïcödé-日本"},
		{"a/b", true, true, "a-b"},
		{"___", false, false, ""},
	}
	for _, tt := range tests {
		if got := jekyllSlugify(tt.in, tt.pretty, tt.cased); got != tt.want {
			t.Errorf("jekyllSlugify(%q, %v, %v) = %q, want %q", tt.in, tt.pretty, tt.cased, got, tt.want)
		}
	}
}
