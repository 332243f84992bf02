package postgres

import (
	"context"
	"fmt"
	"net/url"
	"regexp"

	"github.com/jackc/pgx/v5"
)

var dbName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// CreateDatabase creates the database name on the server that serverURL
// reaches (as its user, who needs CREATEDB) and returns serverURL naming
// the new database instead. Tests and benchmarks make a database each
// with it; name is lower-case letters, digits and underscores.
func CreateDatabase(ctx context.Context, serverURL, name string) (string, error) {
	if !dbName.MatchString(name) {
		return "", fmt.Errorf("store: create database %q: want lower-case letters, digits and _", name)
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("store: create database %s: %w", name, err)
	}
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", fmt.Errorf("store: create database %s: %s: %w", name, redact(serverURL), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("store: create database %s: %w", name, err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// DropDatabase drops the database name on the server that serverURL
// reaches, closing its connections first.
func DropDatabase(ctx context.Context, serverURL, name string) error {
	if !dbName.MatchString(name) {
		return fmt.Errorf("store: drop database %q: want lower-case letters, digits and _", name)
	}
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return fmt.Errorf("store: drop database %s: %s: %w", name, redact(serverURL), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("store: drop database %s: %w", name, err)
	}
	return nil
}
