package sqlite

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const lockChildEnv = "HERALD_LOCK_TEST_DB"

// TestLockDaemonChild is the child process of TestLockDaemonReleasedOnKill:
// it takes the lock, says so, and waits to be killed.
func TestLockDaemonChild(t *testing.T) {
	path := os.Getenv(lockChildEnv)
	if path == "" {
		t.Skip("child process of TestLockDaemonReleasedOnKill")
	}
	if _, err := LockDaemon(path); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("locked\n")
	time.Sleep(time.Minute)
}

// A second daemon on the same database is refused, naming the holder; the
// lock comes free when its holder releases it.
func TestLockDaemonRefusesSecond(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "herald.db")
	l, err := LockDaemon(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockDaemon(path)
	if !errors.Is(err, ErrDaemonRunning) {
		t.Fatalf("second LockDaemon = %v, want ErrDaemonRunning", err)
	}
	for _, want := range []string{path, path + ".lock", "process " + strconv.Itoa(os.Getpid())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release = %v", err)
	}
	l2, err := LockDaemon(path)
	if err != nil {
		t.Fatalf("LockDaemon after Release = %v", err)
	}
	l2.Release()
}

// The kernel releases the lock of a process killed with SIGKILL: a stale
// lock file never blocks the restart.
func TestLockDaemonReleasedOnKill(t *testing.T) {
	if os.Getenv(lockChildEnv) != "" {
		t.Skip("in the child")
	}
	path := filepath.Join(t.TempDir(), "herald.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockDaemonChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("child said %q, %v", line, err)
	}
	_, err = LockDaemon(path)
	if !errors.Is(err, ErrDaemonRunning) || !strings.Contains(err.Error(), "process "+strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("LockDaemon beside the child = %v, want ErrDaemonRunning naming pid %d", err, cmd.Process.Pid)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait()
	l, err := LockDaemon(path)
	if err != nil {
		t.Fatalf("LockDaemon after the holder was killed = %v", err)
	}
	l.Release()
}
