package schedule

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// SDNotify sends state (e.g. "READY=1", "STATUS=…", "WATCHDOG=1",
// "RELOADING=1", "STOPPING=1"; several separated by newlines) to systemd
// through the unixgram socket named by $NOTIFY_SOCKET (a leading "@" names
// the abstract namespace). Without $NOTIFY_SOCKET (not run by systemd, or
// not Type=notify) it does nothing and returns nil.
func SDNotify(state string) error {
	return sdNotify(os.Getenv("NOTIFY_SOCKET"), state)
}

func sdNotify(socket, state string) error {
	if socket == "" {
		return nil
	}
	// Go maps a leading '@' to the abstract namespace (a NUL byte).
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("schedule: sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("schedule: sd_notify: %w", err)
	}
	return nil
}

// WatchdogInterval returns systemd's watchdog interval from
// $WATCHDOG_USEC, or 0 when the watchdog is off or meant for another
// process ($WATCHDOG_PID set to a pid other than ours).
func WatchdogInterval() time.Duration {
	return watchdogInterval(os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())
}

func watchdogInterval(usec, pid string, self int) time.Duration {
	if usec == "" {
		return 0
	}
	if pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil || p != self {
			return 0
		}
	}
	n, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Microsecond
}
