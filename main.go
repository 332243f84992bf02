package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"herald/schedule"
)

// Version is set at build time with -ldflags "-X main.Version=…"; otherwise
// the module version from the build info is used.
var Version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first Ctrl-C (or SIGTERM) stops cleanly; after it the signals
	// have their default effect again, so a second one ends the process at
	// once (what it held in flight is taken over when its lease runs out).
	context.AfterFunc(ctx, stop)

	m := NewMain()
	m.Stdin, m.Stdout, m.Stderr = os.Stdin, os.Stdout, os.Stderr
	m.Reload = make(chan struct{}, 1)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			select {
			case m.Reload <- struct{}{}:
			default:
			}
		}
	}()
	os.Exit(m.Main(ctx, os.Args[1:]))
}

// Main is the whole program, runnable in-process by tests.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Reload receives a value for each SIGHUP: the daemon re-reads its
	// configuration and keeps the old one when the new one is invalid.
	Reload chan struct{}
	// Ready, when set, is called by the daemon after its first scan with the
	// address its HTTP server listens on ("" without a server).
	Ready func(httpAddr string)

	ConfigPath string
	LogFormat  string
	LogLevel   slog.Level
	Command    string
	Args       []string

	Config Config
	Logger *slog.Logger
	// Clock is the time of build, check and run (nil: the system clock);
	// tests set a fixed one.
	Clock schedule.Clock

	closers []func() error
	// progressEvery is mailer.Options.ProgressEvery: `herald send` on a
	// terminal draws a bar instead of logging progress (-1).
	progressEvery time.Duration
}

// NewMain returns a Main writing to the discard writers until set.
func NewMain() *Main {
	return &Main{Stdin: eofReader{}, Stdout: io.Discard, Stderr: io.Discard}
}

// clock returns m.Clock, or the system clock when it is nil.
func (m *Main) clock() schedule.Clock {
	if m.Clock == nil {
		return schedule.SystemClock()
	}
	return m.Clock
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// usageError is bad usage: exit code 2. The message is printed with usage,
// the program's usage when empty.
type usageError struct{ msg, usage string }

func (e *usageError) Error() string { return e.msg }

// Main parses args, runs the command, closes everything and returns the exit
// code: 0 ok, 1 runtime error, 2 bad usage or bad configuration.
func (m *Main) Main(ctx context.Context, args []string) int {
	err := m.ParseFlags(ctx, args)
	if err == nil {
		err = m.Run(ctx)
	}
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return m.exitCode(err)
}

func (m *Main) exitCode(err error) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue *usageError
	var ce *configError
	var se silentError
	switch {
	case errors.As(err, &se):
		return int(se)
	case errors.As(err, &ue):
		u := ue.usage
		if u == "" {
			u = usage()
		}
		fmt.Fprintf(m.Stderr, "herald: %v\n\n%s", err, u)
		return 2
	case errors.As(err, &ce):
		fmt.Fprintf(m.Stderr, "herald: %v\n", err)
		return 2
	case errors.Is(err, context.Canceled):
		// SIGINT or SIGTERM: the command stopped cleanly (what it did is
		// printed); 128 + SIGINT, as shells report an interrupted command.
		fmt.Fprintln(m.Stderr, "herald: interrupted")
		return 130
	default:
		fmt.Fprintf(m.Stderr, "herald: %v\n", err)
		return 1
	}
}

// silentError is an exit code whose reasons were already printed.
type silentError int

func (e silentError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// ParseFlags parses the global flags and the command name. The command's
// own flags are parsed by the command.
func (m *Main) ParseFlags(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("herald", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed once, by exitCode
	fs.Usage = func() {}     // the flag package calls it on errors too
	fs.StringVar(&m.ConfigPath, "config", "", "configuration file")
	fs.StringVar(&m.LogFormat, "log-format", "text", "log format: text or json")
	fs.TextVar(&m.LogLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(m.Stdout, usage())
			return err
		}
		return &usageError{msg: err.Error()}
	}
	if fs.NArg() == 0 {
		return &usageError{msg: "no command given"}
	}
	m.Command, m.Args = fs.Arg(0), fs.Args()[1:]
	if m.LogFormat != "text" && m.LogFormat != "json" {
		return &usageError{msg: fmt.Sprintf("-log-format: want text or json, got %q", m.LogFormat)}
	}
	m.Logger = newLogger(m.Stderr, m.LogFormat, m.LogLevel)
	return nil
}

// Run runs the command.
func (m *Main) Run(ctx context.Context) error {
	switch m.Command {
	case "version":
		if err := m.noArgs("version"); err != nil {
			return err
		}
		fmt.Fprintln(m.Stdout, "herald", version())
		return nil
	case "help":
		return m.runHelp(ctx)
	case "init":
		return m.runInit(ctx)
	case "build":
		return m.runBuild(ctx)
	case "check":
		return m.runCheck(ctx)
	case "run":
		return m.runDaemon(ctx)
	case "status":
		return m.runStatus(ctx)
	case "preview":
		return m.runPreview(ctx)
	case "send":
		return m.runSend(ctx)
	case "subscribers":
		return m.runSubscribers(ctx)
	case "bounces":
		return m.runBounces(ctx)
	case "state":
		return m.runState(ctx)
	}
	return &usageError{msg: fmt.Sprintf("unknown command %q", m.Command)}
}

// Close closes what the command opened, newest first.
func (m *Main) Close() error {
	var errs []error
	for i := len(m.closers) - 1; i >= 0; i-- {
		errs = append(errs, m.closers[i]())
	}
	m.closers = nil
	return errors.Join(errs...)
}

func (m *Main) onClose(f func() error) { m.closers = append(m.closers, f) }

// loadConfig finds, reads and validates the configuration.
func (m *Main) loadConfig() error {
	path, err := findConfig(m.ConfigPath)
	if err != nil {
		return err
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		return err
	}
	m.Config = cfg
	return nil
}

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// newLogger logs text or JSON to w; without timestamps under journald,
// which adds its own.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if os.Getenv("JOURNAL_STREAM") != "" {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
