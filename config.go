package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"herald/feed"
	"herald/mailer"
	"herald/mailer/bounce"
	"herald/schedule"
	"herald/schedule/server"
	"herald/schedule/store"
	"herald/schedule/store/postgres"
	"herald/schedule/store/sqlite"
)

// Config is Herald's whole configuration, assembled from each package's own
// section. It is decoded strictly (an unknown key is an error naming it and
// its line) and validated at load.
type Config struct {
	Site     feed.Site        `toml:"site"`
	Posts    feed.PostsConfig `toml:"posts"`
	Feeds    feed.FeedsConfig `toml:"feeds"`
	Schedule schedule.Config  `toml:"schedule"`
	Mail     mailer.Config    `toml:"mail"`
	Server   ServerConfig     `toml:"server"`
	Bounce   bounce.Config    `toml:"bounce"`
	State    store.Config     `toml:"state"`

	// Path is the file the configuration was read from ("" for none).
	Path string `toml:"-"`
	// Sources says where each setting taken over from a Jekyll site
	// (site.jekyll) came from; empty without site.jekyll.
	Sources []feed.Source `toml:"-"`
}

// DefaultConfig returns the embedded defaults. Site title and URL have no
// default: they must be configured.
func DefaultConfig() Config {
	return Config{
		Site:     feed.DefaultSite(),
		Posts:    feed.DefaultPosts(),
		Feeds:    feed.DefaultFeeds(),
		Schedule: schedule.Default(),
		Mail:     mailer.Default(),
		Server:   ServerConfig{Config: server.Default(), WebConfig: mailer.DefaultWeb()},
		Bounce:   bounce.Default(),
		State:    store.Default(),
	}
}

// ServerConfig is the [server] section. Its keys belong to two packages,
// each of which decodes and validates its own: listen to the HTTP server
// (schedule/server), the others (public_url, secret_env, secret_file,
// pending_ttl, trust_proxy, rate_limit) to the subscription pages
// (mailer.WebConfig).
type ServerConfig struct {
	server.Config
	mailer.WebConfig
}

// configError is a bad configuration: exit code 2.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// findConfig returns the configuration file to use: the one named, else
// config.toml in the working directory, else /etc/herald/config.toml.
func findConfig(named string) (string, error) {
	if named != "" {
		return named, nil
	}
	for _, p := range []string{"config.toml", "/etc/herald/config.toml"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", &configError{errors.New("no configuration: config.toml not found in the working directory nor /etc/herald (use -config FILE)")}
}

// LoadConfig reads, strictly decodes and validates the file at path.
// Relative paths in it are resolved against the file's folder.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, &configError{fmt.Errorf("config: %w", err)}
	}
	if err := decodeConfig(path, data, &cfg); err != nil {
		return cfg, err
	}
	cfg.Path = path
	if err := cfg.applyJekyll(path, data); err != nil {
		return cfg, err
	}
	cfg.resolvePaths(filepath.Dir(path))
	if err := cfg.Validate(); err != nil {
		return cfg, &configError{fmt.Errorf("%s: %w", path, err)}
	}
	return cfg, nil
}

func decodeConfig(path string, data []byte, cfg *Config) error {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(cfg)
	if err == nil {
		return nil
	}
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		msgs := make([]string, 0, len(strict.Errors))
		for _, e := range strict.Errors {
			row, col := e.Position()
			msgs = append(msgs, fmt.Sprintf("%s:%d:%d: unknown key %s", path, row, col, strings.Join(e.Key(), ".")))
		}
		return &configError{errors.New(strings.Join(msgs, "\n"))}
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		key := strings.Join(de.Key(), ".")
		if want := wantedType(de.Error()); key != "" && want != "" {
			return &configError{fmt.Errorf("%s:%d:%d: %s: want %s, got %s", path, row, col, key, want, valueAt(data, row, col))}
		}
		if key != "" {
			return &configError{fmt.Errorf("%s:%d:%d: %s: %s", path, row, col, key, de.Error())}
		}
		return &configError{fmt.Errorf("%s:%d:%d: %s", path, row, col, de.Error())}
	}
	return &configError{fmt.Errorf("%s: %w", path, err)}
}

// decodeTypeRE matches go-toml's message for a value of the wrong type,
// which names Go types: "cannot decode TOML string into struct field
// feed.FeedsConfig.Limit of type int".
var decodeTypeRE = regexp.MustCompile(`cannot decode TOML \w+ into .* of type (\S+)`)

// wantedType says in words what a configuration key of the Go type named
// in a decode error wants ("a number"), or "" when the message is another.
func wantedType(msg string) string {
	m := decodeTypeRE.FindStringSubmatch(msg)
	if m == nil {
		return ""
	}
	t := m[1]
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"), strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string", strings.HasSuffix(t, "Duration"):
		return "a string"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a table"
	}
	return ""
}

// valueAt is the value written at row, col (1-based) of data, up to the end
// of its line, for messages.
func valueAt(data []byte, row, col int) string {
	lines := strings.Split(string(data), "\n")
	if row < 1 || row > len(lines) {
		return "another type"
	}
	line := strings.TrimRight(lines[row-1], "\r")
	if col >= 1 && col <= len(line) {
		line = line[col-1:]
	}
	v := strings.TrimSpace(line)
	if len(v) > 60 {
		v = v[:60] + "…"
	}
	if v == "" {
		return "another type"
	}
	return v
}

// applyJekyll reads the _config.yml of site.jekyll (relative to the
// configuration file's folder) and fills the keys data (config.toml) does
// not set.
func (c *Config) applyJekyll(path string, data []byte) error {
	if c.Site.Jekyll == "" {
		return nil
	}
	if !filepath.IsAbs(c.Site.Jekyll) {
		c.Site.Jekyll = filepath.Join(filepath.Dir(path), c.Site.Jekyll)
	}
	j, err := feed.ReadJekyllConfig(c.Site.Jekyll)
	if err != nil {
		return &configError{fmt.Errorf("%s: %w", path, err)}
	}
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		return &configError{fmt.Errorf("%s: %w", path, err)}
	}
	isSet := func(key string) bool {
		m := raw
		parts := strings.Split(key, ".")
		for i, p := range parts {
			v, ok := m[p]
			if !ok {
				return false
			}
			if i == len(parts)-1 {
				return true
			}
			if m, ok = v.(map[string]any); !ok {
				return false
			}
		}
		return false
	}
	c.Sources = j.Apply(&c.Site, &c.Posts, &c.Feeds, isSet)
	for i := range c.Sources {
		if c.Sources[i].From == "config.toml" {
			c.Sources[i].From = path
		}
	}
	return nil
}

// resolvePaths makes the relative paths of the configuration relative to dir.
func (c *Config) resolvePaths(dir string) {
	for _, p := range []*string{&c.Posts.Dir, &c.Feeds.Dir, &c.Mail.Maildir, &c.Mail.Templates, &c.State.Database, &c.State.PasswordFile, &c.Mail.SMTP.PasswordFile, &c.Mail.DKIM.KeyFile, &c.Server.SecretFile,
		&c.Bounce.IMAP.PasswordFile, &c.Bounce.Postmark.PasswordFile, &c.Bounce.Mailgun.SigningKeyFile} {
		if *p != "" && !filepath.IsAbs(*p) && !store.IsPostgresURL(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// Validate checks every section, in file order, and fills derived defaults.
func (c *Config) Validate() error {
	if err := c.Site.Validate(); err != nil {
		return err
	}
	if err := c.Posts.Validate(); err != nil {
		return err
	}
	if err := c.Feeds.Validate(&c.Site); err != nil {
		return err
	}
	if err := c.Schedule.Validate(); err != nil {
		return err
	}
	if err := c.Mail.Validate(); err != nil {
		return err
	}
	if err := c.Server.Config.Validate(); err != nil {
		return err
	}
	if err := c.Server.WebConfig.Validate(c.Site.URL + c.Site.BaseURL + "/herald"); err != nil {
		return err
	}
	if err := c.Bounce.Validate(); err != nil {
		return err
	}
	return c.State.Validate()
}

// openStore opens the state database the [state] section names. It is the
// one place that knows which backends exist.
// A postgres:// (or postgresql://) URL selects PostgreSQL, with the password
// from state.password_env or state.password_file; anything else is a SQLite
// file.
//
// readOnly is for the commands that only read: they never create a SQLite
// database; where there is none they get an empty state and a warning.
func openStore(ctx context.Context, c store.Config, readOnly bool, log *slog.Logger) (store.Store, error) {
	if !c.Postgres() {
		if !readOnly {
			return sqlite.Open(ctx, c.Database)
		}
		db, fresh, err := sqlite.OpenExisting(ctx, c.Database)
		if fresh {
			log.Warn("no database yet: showing an empty state (herald run, or a command that changes the list, creates it)", "database", c.Database)
		}
		return db, err
	}
	pw, err := c.Password()
	if err != nil {
		return nil, err
	}
	return postgres.Open(ctx, c.Database, postgres.Options{Password: pw})
}

// lockDaemon makes this process the only `herald run` on the database the
// [state] section names (SQLite: an OS lock beside the file, released by
// the kernel when the process dies), or fails saying who holds it. The
// other commands never take it. PostgreSQL takes none: several daemons
// share it, each claim leased.
func lockDaemon(c store.Config) (release func() error, err error) {
	if c.Postgres() {
		return func() error { return nil }, nil
	}
	l, err := sqlite.LockDaemon(c.Database)
	if err != nil {
		return nil, err
	}
	return l.Release, nil
}
