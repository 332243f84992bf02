package store

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Test with errors.Is; the returned errors carry a message
// naming the database file.
var (
	// ErrNotFound: no such row (Meta key, subscriber, …). Always returned
	// wrapped in a message naming what was missing: `store: meta "k": not found`.
	ErrNotFound = errors.New("not found")
	// ErrSchemaTooNew: the database was migrated by a newer herald.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this herald")
	// ErrLocked: another connection held the database locked for longer
	// than the busy timeout.
	ErrLocked = errors.New("store: database is locked")
	// ErrCorrupt: the file is not a SQLite database, or is damaged.
	ErrCorrupt = errors.New("store: file is not a valid SQLite database")
)

// Config is the [state] section of config.toml.
type Config struct {
	// Database is the SQLite file; its folder is created when missing.
	Database string `toml:"database"`
}

// Default returns the default [state] section.
func Default() Config { return Config{Database: "var/herald.db"} }

// Validate checks the section; messages name the key.
func (c *Config) Validate() error {
	c.Database = strings.TrimSpace(c.Database)
	switch {
	case c.Database == "":
		return errors.New("state.database: must not be empty")
	case strings.ContainsRune(c.Database, 0):
		return fmt.Errorf("state.database: must not contain a NUL byte, got %q", c.Database)
	case c.Database == ":memory:" || strings.HasPrefix(c.Database, "file:"):
		return fmt.Errorf("state.database: must be a file path, got %q", c.Database)
	}
	return nil
}
