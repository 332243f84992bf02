package mailer

import (
	"context"
	"errors"
)

// conn is a worker's connection and what it knows about it.
type conn struct {
	m    *Mailer
	n    int
	c    Conn
	sent int // messages sent over c
}

func (w *conn) open(ctx context.Context) error {
	if w.c != nil {
		return nil
	}
	c, err := w.m.transport.Open(ctx)
	if err != nil {
		return err
	}
	w.c, w.sent = c, 0
	return nil
}

func (w *conn) close() {
	if w.c != nil {
		if err := w.c.Close(); err != nil {
			w.m.log.Debug("closing mail connection", "worker", w.n, "err", err)
		}
		w.c = nil
	}
}

// send sends msg, opening the connection when needed. When a connection
// that already carried messages turns out broken (the server closed it
// while idle, or after its per-connection limit: network error or 421), it
// re-dials and tries once more at once: the message never reached the
// server, so this costs no attempt. dialErr reports that the error came from
// connecting, not from sending.
func (w *conn) send(ctx context.Context, msg *Message) (dialErr bool, err error) {
	for try := 0; ; try++ {
		if err := w.open(ctx); err != nil {
			return true, err
		}
		err := w.c.Send(ctx, msg)
		if err == nil {
			w.sent++
			return false, nil
		}
		var se *SendError
		broken := !errors.As(err, &se) || se.ConnBroken()
		reused := w.sent > 0
		if broken {
			w.close()
		}
		if broken && reused && try == 0 && ctx.Err() == nil {
			w.m.log.Debug("mail connection broke after reuse; re-dialling", "worker", w.n, "err", err)
			continue
		}
		return false, err
	}
}
