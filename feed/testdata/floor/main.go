// Command floor is the floor Herald's `build` with feeds.limit = 0 is
// measured against (BENCHMARKS.md): read every post of a folder, decode its
// front matter with yaml.v3, render its Markdown with goldmark (Table +
// Strikethrough) on 2 workers, and write one gorilla/feeds RSS holding
// every post. No Herald logic.
//
//	go build -o /tmp/floor ./feed/testdata/floor && /tmp/floor POSTS OUT.xml
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/feeds"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"gopkg.in/yaml.v3"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: floor POSTS OUT.xml")
		os.Exit(2)
	}
	dir, out := os.Args[1], os.Args[2]
	ents, err := os.ReadDir(dir)
	if err != nil {
		panic(err)
	}
	md := goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough))
	items := make([]*feeds.Item, len(ents))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			var html bytes.Buffer
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ents) {
					return
				}
				src, err := os.ReadFile(filepath.Join(dir, ents[i].Name()))
				if err != nil {
					panic(err)
				}
				var fm struct {
					Title string `yaml:"title"`
					Date  string `yaml:"date"`
				}
				if head, rest, ok := bytes.Cut(src[3:], []byte("\n---\n")); ok {
					if err := yaml.Unmarshal(head, &fm); err != nil {
						panic(err)
					}
					src = rest
				}
				html.Reset()
				if err := md.Convert(src, &html); err != nil {
					panic(err)
				}
				name := ents[i].Name()
				items[i] = &feeds.Item{
					Title: fm.Title, Id: name, Content: html.String(),
					Link:    &feeds.Link{Href: "https://blog.example.com/" + name},
					Created: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
				}
			}
		})
	}
	wg.Wait()
	f := &feeds.Feed{Title: "Floor", Link: &feeds.Link{Href: "https://blog.example.com/"}, Items: items, Created: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	w, err := os.Create(out)
	if err != nil {
		panic(err)
	}
	if err := f.WriteRss(w); err != nil {
		panic(err)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
}
