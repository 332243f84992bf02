package feed_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"herald/feed"
)

// Generate builds the feeds of the posts due at a given time from a
// snapshot of the posts folder.
func ExampleGenerate() {
	dir, err := os.MkdirTemp("", "herald-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	post := "---\ntitle: Hello, feeds\ndate: 2026-01-15 09:00:00\n---\nThe first post.\n\n# TLDR\n\nFeeds are back.\n"
	if err := os.WriteFile(filepath.Join(dir, "2026-01-15-hello.md"), []byte(post), 0o644); err != nil {
		log.Fatal(err)
	}
	later := "---\ntitle: Not yet\ndate: 2026-03-01 09:00:00\n---\nScheduled.\n"
	if err := os.WriteFile(filepath.Join(dir, "2026-03-01-not-yet.md"), []byte(later), 0o644); err != nil {
		log.Fatal(err)
	}

	site := feed.DefaultSite()
	site.Title, site.URL = "Example Blog", "https://blog.example.com"
	if err := site.Validate(); err != nil {
		log.Fatal(err)
	}
	cfg := feed.DefaultFeeds()
	if err := cfg.Validate(&site); err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	loader := feed.NewLoader(&site, dir, nil)
	snap, err := loader.Scan(ctx)
	if err != nil {
		log.Fatal(err)
	}
	now := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC) // the second post is not due yet
	out, err := feed.Generate(ctx, loader, &site, &cfg, snap, now)
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range out.Files {
		fmt.Println(f.Name)
	}
	rss, _ := out.File("feed.xml")
	fmt.Println(len(snap.Posts), "posts read; feed.xml holds \"Hello, feeds\":", bytes.Contains(rss.Data, []byte("Hello, feeds")), "and \"Not yet\":", bytes.Contains(rss.Data, []byte("Not yet")))
	// Output:
	// atom.xml
	// feed.json
	// feed.xml
	// 2 posts read; feed.xml holds "Hello, feeds": true and "Not yet": false
}
