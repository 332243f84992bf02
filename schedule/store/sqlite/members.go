package sqlite

import (
	"context"
	"herald/schedule/store"
	"time"
)

// Beat records a heartbeat of daemon m at now, creating its row.
func (db *DB) Beat(ctx context.Context, now time.Time, m store.Member) error {
	_, err := db.sql.ExecContext(ctx, `
INSERT INTO members (id, host, pid, version, started_at, seen_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`,
		m.ID, m.Host, m.PID, m.Version, unix(m.StartedAt), unix(now))
	if err != nil {
		return db.wrap("heartbeat", err)
	}
	return nil
}

// Members returns the daemons seen at or after since, oldest first, each
// with the deliveries it holds (sending).
func (db *DB) Members(ctx context.Context, since time.Time) ([]store.Member, error) {
	// One daemon at most runs on a SQLite file: every delivery in flight is its.
	rows, err := db.sql.QueryContext(ctx, `
SELECT m.id, m.host, m.pid, m.version, m.started_at, m.seen_at,
    (SELECT count(*) FROM deliveries d WHERE d.state = 'sending')
FROM members m WHERE m.seen_at >= ? ORDER BY m.started_at, m.id`, unix(since))
	if err != nil {
		return nil, db.wrap("members", err)
	}
	defer rows.Close()
	var list []store.Member
	for rows.Next() {
		var (
			m             store.Member
			started, seen int64
		)
		if err := rows.Scan(&m.ID, &m.Host, &m.PID, &m.Version, &started, &seen, &m.Held); err != nil {
			return nil, db.wrap("members", err)
		}
		m.StartedAt, m.SeenAt = fromUnix(started), fromUnix(seen)
		list = append(list, m)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap("members", err)
	}
	return list, nil
}

// Leave removes daemon id.
func (db *DB) Leave(ctx context.Context, id string) error {
	if _, err := db.sql.ExecContext(ctx, "DELETE FROM members WHERE id = ?", id); err != nil {
		return db.wrap("leave", err)
	}
	return nil
}
