package store

import "time"

// Member is one running daemon (`herald run`) of the installation, as its
// heartbeats record it. Several daemons share one PostgreSQL database; on
// SQLite there is at most one.
type Member struct {
	// ID names the daemon for its lifetime: "host:pid:random". The leases
	// its mail worker takes name an owner that starts with "host:pid:".
	ID      string
	Host    string
	PID     int
	Version string
	// StartedAt: the daemon's start; SeenAt: its last heartbeat. UTC, seconds.
	StartedAt, SeenAt time.Time
	// Held counts the deliveries it holds right now (sending, claimed by it).
	Held int
}
