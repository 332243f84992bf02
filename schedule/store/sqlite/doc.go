// Package sqlite is Herald's default state backend: one SQLite file holding
// the posts seen in the posts folder, their announcements, the newsletter's
// subscribers and its delivery ledger. [DB] satisfies [store.Store].
//
// It is the only package that imports the SQLite driver (modernc.org/sqlite,
// pure Go). The database is one file opened in WAL mode, so the daemon and a
// second process (`herald status`, `herald subscribers add`) can use it at
// the same time; a writer that finds the file locked waits up to the busy
// timeout and then fails with [store.ErrLocked].
//
// Conventions: times are stored as INTEGER Unix seconds and returned in UTC
// (sub-second precision is dropped); the schema lives in embedded migrations
// (migrations/NNNN_name.sql) applied by [Open], one transaction each, and
// recorded in schema_migrations; every error starts with "store: ". The SQL
// sits next to the code that scans it: posts.go (posts and announcements),
// subscribers.go, deliveries.go (the ledger).
package sqlite
