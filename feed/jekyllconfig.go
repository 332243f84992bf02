package feed

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxJekyllConfig bounds the size of a _config.yml Herald reads.
const maxJekyllConfig = 1 << 20

// JekyllConfig is what Herald takes from a Jekyll site's _config.yml: the
// settings that mean something for feeds and mail, each with the line it
// came from. Unknown keys are ignored (every Jekyll site has dozens).
type JekyllConfig struct {
	Dir  string // the Jekyll source folder
	File string // its _config.yml

	values   map[string]jekyllValue // by Herald key ("site.url")
	defaults []postDefault
}

// jekyllValue is one setting taken from _config.yml.
type jekyllValue struct {
	v    any // string, bool, int or []string
	line int
}

// Source is where one configuration value came from, for `herald check`.
type Source struct {
	Key   string // "site.url"
	Value string
	From  string // "config.toml", "_config.yml:13" (the file's path), "default"
}

// String formats the source as `site.url = "https://…" (from _config.yml:13)`.
func (s Source) String() string {
	return fmt.Sprintf("%s = %s (from %s)", s.Key, s.Value, s.From)
}

// ReadJekyllConfig reads dir/_config.yml. A file that does not parse is an
// error naming the file and line; a missing file is an error too (dir is
// then not a Jekyll site).
func ReadJekyllConfig(dir string) (*JekyllConfig, error) {
	file := filepath.Join(dir, "_config.yml")
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("site.jekyll: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJekyllConfig+1))
	if err != nil {
		return nil, fmt.Errorf("site.jekyll: %w", err)
	}
	if len(data) > maxJekyllConfig {
		return nil, fmt.Errorf("%s: larger than %d bytes", file, maxJekyllConfig)
	}
	return parseJekyllConfig(dir, file, data)
}

func parseJekyllConfig(dir, file string, data []byte) (*JekyllConfig, error) {
	doc, err := decodeYAML(data)
	if err != nil {
		n, msg := yamlLine(err)
		if n > 0 {
			return nil, fmt.Errorf("%s:%d: invalid YAML: %s", file, n, msg)
		}
		return nil, fmt.Errorf("%s: invalid YAML: %s", file, msg)
	}
	j := &JekyllConfig{Dir: dir, File: file, values: map[string]jekyllValue{}}
	var root *yaml.Node
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root = deref(doc.Content[0])
	}
	if root == nil || isNull(root) {
		return j, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: must be a YAML mapping of keys to values", file, root.Line)
	}
	top := map[string]*yaml.Node{}
	lines := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := deref(root.Content[i]), deref(root.Content[i+1])
		if k == nil || v == nil || k.Kind != yaml.ScalarNode {
			continue
		}
		top[k.Value], lines[k.Value] = v, k.Line
	}
	str := func(key string) (string, int, bool) {
		v := top[key]
		s, ok := scalar(v)
		if !ok || v == nil || isNull(v) {
			return "", 0, false
		}
		return strings.TrimSpace(s), lines[key], true
	}
	set := func(hkey string, v any, line int) { j.values[hkey] = jekyllValue{v, line} }

	// title; al-folio writes "title: blank" for "use my full name".
	if s, line, ok := str("title"); ok && s != "" && s != "blank" {
		set("site.title", s, line)
	} else {
		var parts []string
		first := 0
		for _, k := range []string{"first_name", "middle_name", "last_name"} {
			if p, l, ok := str(k); ok && p != "" {
				parts = append(parts, p)
				if first == 0 {
					first = l
				}
			}
		}
		switch {
		case len(parts) > 0:
			set("site.title", strings.Join(parts, " "), first)
		default:
			if n, l, ok := str("name"); ok && n != "" { // jekyll-feed: site.title | default: site.name
				set("site.title", n, l)
			}
		}
	}
	for _, m := range [][2]string{
		{"url", "site.url"}, {"baseurl", "site.baseurl"}, {"email", "site.email"},
		{"lang", "site.language"}, {"timezone", "site.timezone"}, {"permalink", "site.permalink"},
	} {
		if s, line, ok := str(m[0]); ok && s != "" {
			set(m[1], s, line)
		}
	}
	if v := top["excerpt_separator"]; v != nil && v.Kind == yaml.ScalarNode && !isNull(v) {
		set("site.excerpt_separator", v.Value, lines["excerpt_separator"]) // not trimmed: "\n\n" is Jekyll's default
	}
	if s, line, ok := str("description"); ok && s != "" {
		set("site.description", markdownText(s), line)
	}
	if v := top["author"]; v != nil && !isNull(v) {
		line := lines["author"]
		switch v.Kind {
		case yaml.ScalarNode:
			set("site.author", strings.TrimSpace(v.Value), line)
		case yaml.MappingNode:
			if s := mapString(v, "name"); s != "" {
				set("site.author", s, line)
			}
			if s := mapString(v, "email"); s != "" {
				if _, ok := j.values["site.email"]; !ok {
					set("site.email", s, line)
				}
			}
			if s := mapString(v, "uri"); s != "" {
				set("site.author_uri", s, line)
			}
		}
	}
	if v := top["future"]; v != nil && !isNull(v) {
		if b, ok := boolean(v); ok {
			set("site.future", b, lines["future"])
		} else {
			return nil, fmt.Errorf("%s:%d: future: must be true or false", file, lines["future"])
		}
	}
	if d := top["defaults"]; d != nil && d.Kind == yaml.SequenceNode {
		j.defaults = postDefaults(d)
	}
	j.values["posts.dir"] = jekyllValue{dir, 0}
	if err := j.readFeedBlock(top["feed"], lines["feed"]); err != nil {
		return nil, fmt.Errorf("%s:%w", file, err)
	}
	return j, nil
}

// readFeedBlock maps jekyll-feed's own settings to Herald's [feeds] keys.
func (j *JekyllConfig) readFeedBlock(v *yaml.Node, line int) error {
	if v == nil || v.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := deref(v.Content[i]), deref(v.Content[i+1])
		if k == nil || val == nil {
			continue
		}
		kl := k.Line
		switch k.Value {
		case "path":
			if s, ok := scalar(val); ok && strings.TrimSpace(s) != "" {
				j.values["feeds.atom"] = jekyllValue{strings.TrimLeft(strings.TrimSpace(s), "/"), kl}
			}
		case "posts_limit":
			n, err := strconv.Atoi(strings.TrimSpace(val.Value))
			if val.Kind != yaml.ScalarNode || err != nil || n < 0 {
				return fmt.Errorf("%d: feed.posts_limit: must be a number of posts, got %q", kl, val.Value)
			}
			j.values["feeds.limit"] = jekyllValue{n, kl}
		case "excerpt_only":
			if b, ok := boolean(val); ok {
				j.values["feeds.full_content"] = jekyllValue{!b, kl}
			}
		case "categories":
			if list, _ := stringList(val, false); len(list) > 0 {
				j.values["feeds.categories"] = jekyllValue{list, kl}
			}
		case "tags":
			switch {
			case val.Kind == yaml.MappingNode:
				j.values["feeds.by_tag"] = jekyllValue{"feed/by_tag/", kl}
				if s := mapString(val, "path"); s != "" {
					j.values["feeds.by_tag"] = jekyllValue{strings.TrimLeft(s, "/"), kl}
				}
				for _, sub := range []string{"only", "except"} {
					for m := 0; m+1 < len(val.Content); m += 2 {
						if kk := deref(val.Content[m]); kk != nil && kk.Value == sub {
							list, _ := stringList(deref(val.Content[m+1]), false)
							j.values["feeds.by_tag_"+sub] = jekyllValue{list, kk.Line}
						}
					}
				}
			default:
				if b, ok := boolean(val); ok && b {
					j.values["feeds.by_tag"] = jekyllValue{"feed/by_tag/", kl}
				}
			}
		}
	}
	return nil
}
