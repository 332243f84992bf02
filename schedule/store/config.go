package store

import (
	"errors"
	"fmt"
	"net/url"
	"os"
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
	// ErrFull: the disk (or the database's quota) is full: nothing can be
	// written until space returns.
	ErrFull = errors.New("store: disk full")
	// ErrGone: the database the process opened was deleted or replaced
	// under it.
	ErrGone = errors.New("store: database deleted or replaced")
	// ErrCorrupt: the file is not a SQLite database, or is damaged.
	ErrCorrupt = errors.New("store: file is not a valid SQLite database")
)

// Config is the [state] section of config.toml.
type Config struct {
	// Database is the SQLite file (its folder is created when missing), or
	// a PostgreSQL URL: postgres://user@host/db?sslmode=… (or
	// postgresql://…), without its password.
	Database string `toml:"database"`
	// PasswordEnv names the environment variable holding the PostgreSQL
	// password; PasswordFile is a file holding it (its first line) and wins
	// over PasswordEnv. Both empty: no password (peer or trust
	// authentication, or ~/.pgpass).
	PasswordEnv  string `toml:"password_env"`
	PasswordFile string `toml:"password_file"`
}

// Default returns the default [state] section.
func Default() Config { return Config{Database: "var/herald.db"} }

// Postgres reports whether Database is a PostgreSQL URL (postgres:// or
// postgresql://) rather than a SQLite file.
func (c *Config) Postgres() bool { return IsPostgresURL(c.Database) }

// IsPostgresURL reports whether s is a PostgreSQL URL (postgres:// or
// postgresql://) rather than a SQLite file.
func IsPostgresURL(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Validate checks the section; messages name the key.
func (c *Config) Validate() error {
	c.Database = strings.TrimSpace(c.Database)
	switch {
	case c.Database == "":
		return errors.New("state.database: must not be empty")
	case strings.ContainsRune(c.Database, 0):
		return fmt.Errorf("state.database: must not contain a NUL byte, got %q", c.Database)
	case c.Postgres():
		u, err := url.Parse(c.Database)
		if err != nil {
			return fmt.Errorf("state.database: not a valid PostgreSQL URL: %v", redactErr(err))
		}
		if _, has := u.User.Password(); has {
			return errors.New("state.database: must not contain a password: put it in the environment variable named by state.password_env, or in state.password_file")
		}
		if q := u.Query(); q.Has("password") {
			return errors.New("state.database: must not contain a password parameter: use state.password_env or state.password_file")
		}
		if c.PasswordFile != "" {
			if _, err := c.Password(); err != nil {
				return fmt.Errorf("state.password_file: %v", err)
			}
		}
		return nil
	case c.Database == ":memory:" || strings.HasPrefix(c.Database, "file:"):
		return fmt.Errorf("state.database: must be a file path or a postgres:// URL, got %q", c.Database)
	case c.PasswordEnv != "":
		return errors.New("state.password_env: only for a PostgreSQL state.database (postgres://…); a SQLite file has no password")
	case c.PasswordFile != "":
		return errors.New("state.password_file: only for a PostgreSQL state.database (postgres://…); a SQLite file has no password")
	}
	return nil
}

// redactErr is err's message with any userinfo of a URL dropped (a
// url.Error quotes the whole URL).
func redactErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// Password returns the PostgreSQL password: the first line of
// PasswordFile, or the value of the environment variable PasswordEnv, or ""
// when neither is set.
func (c *Config) Password() (string, error) {
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("store: reading the password file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		if line = strings.TrimRight(line, "\r"); line == "" {
			return "", fmt.Errorf("store: password file %s is empty", c.PasswordFile)
		}
		return line, nil
	}
	if c.PasswordEnv == "" {
		return "", nil
	}
	v, ok := os.LookupEnv(c.PasswordEnv)
	if !ok || v == "" {
		return "", fmt.Errorf("store: environment variable %s (state.password_env) is not set", c.PasswordEnv)
	}
	return v, nil
}
