package feed

import (
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxPageFile bounds how much of a page file pageURL reads.
const maxPageFile = 1 << 20

// siteRoot is the folder {% link %} paths are relative to: site.jekyll,
// else the folder above a posts folder called _posts, else the posts folder.
func (l *Loader) siteRoot() string {
	if l.st.Jekyll != "" {
		return l.st.Jekyll
	}
	if filepath.Base(l.dir) == "_posts" {
		return filepath.Dir(l.dir)
	}
	return l.dir
}

// pageURL is the URL Jekyll gives the page at rel (a site path such as
// "_pages/about.md"): its front matter's permalink, else Jekyll's default
// for pages ("/:path/:basename" with ".html" or "/" as the site's
// permalink style asks; "/:path/" for an index page). ok is false when the
// file cannot be read.
func (l *Loader) pageURL(rel string) (string, bool) {
	rel = path.Clean("/" + strings.TrimSpace(rel))[1:]
	if rel == "" || strings.HasPrefix(rel, "..") {
		return "", false
	}
	f, err := os.Open(filepath.Join(l.siteRoot(), filepath.FromSlash(rel)))
	if err != nil {
		return "", false
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPageFile))
	if err != nil {
		return "", false
	}
	base := strings.TrimRight(l.st.URL, "/") + strings.TrimRight(l.st.BaseURL, "/")
	if fm, _, _, perr := splitFrontMatter(data); perr == nil {
		if doc, err := decodeYAML(fm); err == nil && len(doc.Content) > 0 {
			if root := deref(doc.Content[0]); root != nil && root.Kind == yaml.MappingNode {
				if p := mapString(root, "permalink"); p != "" {
					u, _ := expandPermalink(p, &permalinkVars{slug: strings.TrimSuffix(path.Base(rel), path.Ext(rel))})
					return base + u, true
				}
			}
		}
	}
	dir, file := path.Split(rel)
	name := strings.TrimSuffix(file, path.Ext(file))
	ext := path.Ext(file)
	switch ext {
	case ".md", ".markdown", ".html", ".htm":
		ext = ".html"
	}
	if name == "index" && ext == ".html" {
		return base + cleanURLPath("/"+dir), true
	}
	style := strings.TrimSpace(l.st.Permalink)
	suffix := ext
	switch {
	case ext != ".html":
	case style == "pretty" || strings.HasSuffix(style, "/"):
		suffix = "/"
	case style == "date" || style == "ordinal" || style == "none" || strings.HasSuffix(style, ":output_ext"):
		suffix = ".html"
	default:
		suffix = ""
	}
	return base + cleanURLPath("/"+dir+name+suffix), true
}
