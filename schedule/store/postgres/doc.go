// Package postgres is the PostgreSQL backend of the store: the state of
// one Herald installation shared by several daemons (`state.database =
// "postgres://…"`), through github.com/jackc/pgx/v5 (pgxpool). It is the
// only importer of pgx.
//
// *DB satisfies [herald/schedule/store.Store] with the meaning documented
// on the SQLite backend (the reference implementation), and adds what
// several daemons on one database need: a post is announced once (a
// unique constraint, INSERT … ON CONFLICT DO NOTHING, and Record holding a
// transaction-level advisory lock); deliveries are claimed with
// UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) so that claims
// never collide.
//
// Open applies the embedded migrations (migrations/NNNN_name.sql, one
// transaction each) under a session advisory lock, so that daemons
// starting together do not race, and refuses a database migrated by a
// newer herald (store.ErrSchemaTooNew).
package postgres
