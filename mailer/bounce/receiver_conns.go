package bounce

import (
	"net"
	"sync"
)

// conns tracks the receiver's connections and whether each is receiving a
// message (from DATA until its replies are written), so that a shutdown
// closes the others at once, as net/http does with idle keep-alive
// connections. Closing one between commands loses nothing: a message not
// yet answered is offered again by the MTA. go-smtp's Shutdown waits for every connection to
// end by itself, and an MTA keeps an LMTP connection open between
// deliveries (Postfix caches them): without this, one idle connection held
// `herald run`'s shutdown for the full grace period and was then left open.
type conns struct {
	mu       sync.Mutex
	busy     map[*trackedConn]bool // true: receiving a message
	stopping bool
}

// add registers a new connection; when the receiver is stopping it is
// closed at once.
func (cs *conns) add(c *trackedConn) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.stopping {
		c.Conn.Close()
		return
	}
	if cs.busy == nil {
		cs.busy = map[*trackedConn]bool{}
	}
	cs.busy[c] = false
}

// remove forgets a closed connection.
func (cs *conns) remove(c *trackedConn) {
	cs.mu.Lock()
	delete(cs.busy, c)
	cs.mu.Unlock()
}

// setBusy records that c started receiving a message (DATA) or is done
// with it (its replies were written, or RSET). A connection done while the
// receiver stops is closed: its replies have been sent.
func (cs *conns) setBusy(nc net.Conn, busy bool) {
	c, ok := nc.(*trackedConn)
	if !ok {
		return
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if _, ok := cs.busy[c]; !ok {
		return
	}
	cs.busy[c] = busy
	if !busy && cs.stopping {
		c.Conn.Close() // the wrapper's Close would take cs.mu again
	}
}

// stop marks the receiver stopping and closes the idle connections; the
// ones receiving a message are closed once it is answered.
func (cs *conns) stop() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.stopping = true
	for c, busy := range cs.busy {
		if !busy {
			c.Conn.Close()
		}
	}
}

// closeAll closes every connection (the grace period ran out).
func (cs *conns) closeAll() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for c := range cs.busy {
		c.Conn.Close()
	}
}

// trackedListener registers each accepted connection with conns.
type trackedListener struct {
	net.Listener
	cs *conns
}

func (l trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, cs: l.cs}
	l.cs.add(tc)
	return tc, nil
}

// trackedConn forgets itself when closed.
type trackedConn struct {
	net.Conn
	cs   *conns
	once sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.cs.remove(c) })
	return err
}
