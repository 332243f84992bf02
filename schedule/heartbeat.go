package schedule

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"herald/schedule/store"
)

// Members is what the heartbeat needs of the store (every backend has it).
type Members interface {
	Beat(ctx context.Context, now time.Time, m store.Member) error
	Members(ctx context.Context, since time.Time) ([]store.Member, error)
	Leave(ctx context.Context, id string) error
}

// Heartbeat intervals: a daemon beats every HeartbeatInterval and counts as
// live while its last beat is younger than LiveFor.
const (
	HeartbeatInterval = 10 * time.Second
	LiveFor           = 3 * HeartbeatInterval
)

// HeartbeatOptions configure RunHeartbeat.
type HeartbeatOptions struct {
	Store  Members
	Member store.Member // ID, Host, PID, Version; StartedAt defaults to the first beat
	// OnMembers, when set, is called after each beat with the number of
	// live daemons (this one included): the mailer shares the cluster's
	// send rate among them.
	OnMembers func(live int)
	Clock     Clock        // nil: the system clock
	Logger    *slog.Logger // nil: discard
}

// RunHeartbeat records that this daemon is alive every HeartbeatInterval
// until ctx is done, then removes its row (a clean stop: `herald status`
// stops listing it at once). A failed beat is logged and retried at the
// next tick; the daemon keeps working.
func RunHeartbeat(ctx context.Context, o HeartbeatOptions) error {
	if o.Clock == nil {
		o.Clock = SystemClock()
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Member.StartedAt.IsZero() {
		o.Member.StartedAt = o.Clock.Now()
	}
	defer func() {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := o.Store.Leave(lctx, o.Member.ID); err != nil {
			log.Warn("heartbeat: leaving", "err", err)
		}
	}()
	timer := o.Clock.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C():
		}
		now := o.Clock.Now()
		if err := o.Store.Beat(ctx, now, o.Member); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			log.Warn("heartbeat failed", "err", err)
		} else if o.OnMembers != nil {
			if live, err := o.Store.Members(ctx, now.Add(-LiveFor)); err != nil {
				log.Warn("heartbeat: counting daemons", "err", err)
			} else {
				o.OnMembers(max(len(live), 1))
			}
		}
		timer.Reset(HeartbeatInterval)
	}
}
