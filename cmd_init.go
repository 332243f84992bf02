package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"herald/feed"
)

// runInit writes a commented config.toml for a new user (from a Jekyll
// site with -jekyll DIR), with the Maildir transport so that Herald runs
// at once, and prints the next two steps. It never overwrites a file.
func (m *Main) runInit(_ context.Context) error {
	fset := m.flags("init")
	jekyll := fset.String("jekyll", "", "a Jekyll source folder (holding _config.yml) to take the settings from")
	out := fset.String("o", "config.toml", "the configuration file to write")
	if err := m.parse(fset, m.Args); err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return &usageError{msg: "init: unexpected argument " + fset.Arg(0)}
	}
	var b strings.Builder
	b.WriteString("# Herald's configuration, written by `herald init`. Every key and its\n" +
		"# default is documented in the config.toml of Herald's repository.\n" +
		"# Relative paths are relative to the folder of this file.\n\n[site]\n")
	postsDir := ""
	if *jekyll != "" {
		dir, err := filepath.Abs(*jekyll)
		if err != nil {
			return fmt.Errorf("init: %w", err)
		}
		j, err := feed.ReadJekyllConfig(dir)
		if err != nil {
			return &configError{fmt.Errorf("init: %w", err)}
		}
		site, posts, feeds := feed.DefaultSite(), feed.DefaultPosts(), feed.DefaultFeeds()
		sources := j.Apply(&site, &posts, &feeds, nil)
		fmt.Fprintf(&b, "jekyll = %s   # the Jekyll site: its _config.yml gives every [site] key not set here\n", strconv.Quote(dir))
		b.WriteString("# Taken from it now (uncomment a line to override it):\n")
		for _, s := range sources {
			if strings.HasPrefix(s.Key, "site.") && s.From != "default" {
				fmt.Fprintf(&b, "# %s = %s   # from %s\n", strings.TrimPrefix(s.Key, "site."), s.Value, s.From)
			}
		}
		if site.Title == "" {
			b.WriteString("title = \"My Blog\"   # _config.yml has no title: change it\n")
		}
		if site.URL == "" {
			b.WriteString("url = \"https://blog.example.com\"   # _config.yml has no url: change it\n")
		}
		b.WriteString("\n[feeds]\n# With site.jekyll, the Atom feed takes jekyll-feed's place and ids\n" +
			"# (feed.xml unless feed: path: says otherwise), RSS is at rss.xml and\n# JSON Feed at feed.json:\n")
		for _, s := range sources {
			if strings.HasPrefix(s.Key, "feeds.") && s.From != "default" {
				fmt.Fprintf(&b, "# %s = %s   # from %s\n", strings.TrimPrefix(s.Key, "feeds."), s.Value, s.From)
			}
		}
		b.WriteString("dir = \"public\"   # where the feed files are written (Herald also serves them)\n")
	} else {
		postsDir = "posts"
		b.WriteString("title = \"My Blog\"                   # the feeds' and emails' title: change it\n" +
			"url = \"https://blog.example.com\"     # your site's address: change it\n" +
			"author = \"\"\nemail = \"\"\ntimezone = \"UTC\"                    # zone of post dates written without an offset\n" +
			"permalink = \"/:year/:month/:day/:title/\"   # as your site's permalinks\n\n" +
			"[posts]\ndir = \"posts\"                       # the folder of YYYY-MM-DD-slug.md posts\n\n" +
			"[feeds]\ndir = \"public\"                      # where feed.xml (RSS), atom.xml and feed.json are written\n")
	}
	b.WriteString("\n[mail]\ntransport = \"maildir\"   # newsletters land in mail.maildir; switch to \"smtp\" and fill [mail.smtp] to send them\n" +
		"maildir = \"var/mail\"\nsection = \"TLDR\"        # the heading whose section is emailed\n\n" +
		"[mail.smtp]\nhost = \"\"\nusername = \"\"\npassword_env = \"HERALD_SMTP_PASSWORD\"\n\n" +
		"[server]\nlisten = \"127.0.0.1:8080\"   # feeds and the subscribe pages\n\n" +
		"[state]\ndatabase = \"var/herald.db\"\n")

	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("init: %s exists already; it is left alone (use -o FILE for another name)", *out)
	}
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("init: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if postsDir != "" {
		if err := os.MkdirAll(filepath.Join(filepath.Dir(*out), postsDir), 0o755); err != nil {
			return fmt.Errorf("init: %w", err)
		}
	}
	cfg := strconv.Quote(*out)
	fmt.Fprintf(m.Stdout, "wrote %s\n\nNext:\n", *out)
	if *jekyll != "" {
		fmt.Fprintf(m.Stdout, "  1. herald -config %s check     # shows each setting and where it came from\n", cfg)
	} else {
		fmt.Fprintf(m.Stdout, "  1. edit %s: site.title and site.url, then herald -config %s check\n", cfg, cfg)
	}
	fmt.Fprintf(m.Stdout, "  2. herald -config %s run       # feeds at http://127.0.0.1:8080/, newsletters in var/mail/new/\n", cfg)
	return nil
}
