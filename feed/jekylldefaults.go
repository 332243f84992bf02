package feed

import (
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// postDefault is one entry of Jekyll's front-matter defaults whose scope
// covers posts: values for keys a post's front matter does not set.
type postDefault struct {
	path string // scope path ("" = every post), slash-separated, relative to the site
	node *yaml.Node
}

// postDefaults keeps the entries of Jekyll's defaults: list whose scope
// covers posts (no type, type "posts"; a path of "", "_posts" or a folder
// holding posts).
func postDefaults(seq *yaml.Node) []postDefault {
	var out []postDefault
	for _, item := range seq.Content {
		item = deref(item)
		if item == nil || item.Kind != yaml.MappingNode {
			continue
		}
		var scope, values *yaml.Node
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := deref(item.Content[i]), deref(item.Content[i+1])
			if k == nil || v == nil {
				continue
			}
			switch k.Value {
			case "scope":
				scope = v
			case "values":
				values = v
			}
		}
		if values == nil || values.Kind != yaml.MappingNode {
			continue
		}
		p, typ := "", ""
		if scope != nil && scope.Kind == yaml.MappingNode {
			p, typ = mapString(scope, "path"), mapString(scope, "type")
		}
		if typ != "" && typ != "posts" {
			continue
		}
		if strings.ContainsAny(p, "*?[") { // a glob: Jekyll matches it against the path
			p = strings.TrimSuffix(p, "*")
		}
		out = append(out, postDefault{path: strings.Trim(path.Clean("/"+p), "/"), node: values})
	}
	return out
}

// defaultsFor returns the defaults' values for a post at rel (its path
// relative to the site, slash-separated), the most specific scope last so
// that it wins.
func defaultsFor(defs []postDefault, rel string) []*yaml.Node {
	var match []postDefault
	for _, d := range defs {
		if d.path == "" || rel == d.path || strings.HasPrefix(rel, d.path+"/") || strings.HasPrefix(rel, d.path) && strings.HasSuffix(d.path, "_") {
			match = append(match, d)
		}
	}
	slices.SortStableFunc(match, func(a, b postDefault) int { return len(a.path) - len(b.path) })
	out := make([]*yaml.Node, len(match))
	for i, d := range match {
		out[i] = d.node
	}
	return out
}

// defaultKeys are the front-matter keys Herald takes from Jekyll's
// defaults.
var defaultKeys = map[string]bool{
	"author": true, "tags": true, "categories": true, "tag": true, "category": true,
	"permalink": true, "published": true, "image": true, "newsletter": true, "excerpt_separator": true,
}

// withDefaults returns root (a post's front matter) with the keys of defs
// (least specific first) that it does not set itself.
func withDefaults(root *yaml.Node, defs []*yaml.Node) *yaml.Node {
	if len(defs) == 0 || (root != nil && root.Kind != yaml.MappingNode && !isNull(root)) {
		return root
	}
	has := map[string]bool{}
	merged := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1, Column: 1}
	if root != nil && root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if k := deref(root.Content[i]); k != nil {
				has[k.Value] = true
			}
		}
	}
	// Most specific first, so that it is the one a key is taken from.
	for i := len(defs) - 1; i >= 0; i-- {
		d := defs[i]
		for k := 0; k+1 < len(d.Content); k += 2 {
			key := deref(d.Content[k])
			if key == nil || key.Kind != yaml.ScalarNode || has[key.Value] || !defaultKeys[key.Value] {
				continue
			}
			has[key.Value] = true
			kc := *key
			kc.Line = 0 // not a line of the post's file
			merged.Content = append(merged.Content, &kc, d.Content[k+1])
		}
	}
	if root != nil && root.Kind == yaml.MappingNode {
		merged.Content = append(merged.Content, root.Content...)
	}
	return merged
}

// titleFromSlug is Jekyll's title for a post without one: the file name's
// slug, its words capitalized ("no-title-here" → "No Title Here").
func titleFromSlug(slug string) string {
	slug = strings.TrimRight(slug, ".")
	words := strings.Split(slug, "-")
	for i, w := range words {
		words[i] = rubyCapitalize(w)
	}
	return strings.TrimSpace(strings.Join(words, " "))
}
