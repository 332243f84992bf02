package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"herald/feed"
	"herald/mailer"
	"herald/schedule"
	"herald/schedule/server"
	"herald/schedule/store"
)

// runDaemon runs the daemon until ctx is cancelled. A value on m.Reload
// re-reads the configuration: when it is valid the daemon restarts its parts
// with it, otherwise it keeps running with the old one and logs why.
func (m *Main) runDaemon(ctx context.Context) error {
	if err := m.noArgs("run"); err != nil {
		return err
	}
	if err := m.loadConfig(); err != nil {
		return err
	}
	locked := m.Config.State
	release, err := lockDaemon(locked)
	if err != nil {
		return err
	}
	defer func() { _ = release() }()
	for {
		reloaded, err := m.serveOnce(ctx)
		if err != nil || !reloaded {
			return err
		}
		if m.Config.State != locked { // the reload names another database
			_ = release()
			locked = m.Config.State
			if release, err = lockDaemon(locked); err != nil {
				release = func() error { return nil }
				return err
			}
		}
	}
}

// serveOnce runs one generation of the daemon with m.Config. It returns
// reloaded=true when a valid new configuration arrived and is now in m.Config.
func (m *Main) serveOnce(ctx context.Context) (reloaded bool, err error) {
	c := &m.Config
	log := m.Logger
	db, err := openStore(ctx, c.State, false, log)
	if err != nil {
		return false, err
	}
	defer db.Close()

	loader := m.newLoader(log)
	handler := feed.NewHandler(c.Feeds.MaxAge.Duration)
	parts, err := m.newMailParts(ctx, db, true)
	if err != nil {
		return false, err
	}
	ml, err := m.newMailer(db, loader, parts)
	if err != nil {
		return false, err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	addr := "" // the HTTP server's address, known before the daemon runs
	readyOnce := sync.Once{}
	d, err := schedule.New(schedule.Options{
		Site:       &c.Site,
		Feeds:      &c.Feeds,
		Schedule:   c.Schedule,
		Backfill:   c.Mail.Backfill,
		Loader:     loader,
		Store:      db,
		PostsDir:   c.Posts.Dir,
		Handler:    handler,
		Newsletter: ml,
		// Each announcement keeps what its newsletter sends.
		MailSnapshot:    ml,
		SnapshotTimeout: c.Posts.RenderTimeout.Duration,
		MailPaused: func() (schedule.MailPause, bool) {
			p, ok := ml.Paused()
			return schedule.MailPause{Since: p.Since, Reason: p.Reason, Next: p.Next}, ok
		},
		Clock:  m.clock(),
		Logger: log,
		Notify: func(st string) {
			_ = schedule.SDNotify(st)
			if strings.Contains(st, "READY=1") {
				readyOnce.Do(func() {
					log.Info("herald is running", "feeds", c.Feeds.Dir, "http", httpURL(addr), "mail", m.mailDestination())
					if m.Ready != nil {
						m.Ready(addr)
					}
				})
			}
		},
	})
	if err != nil {
		return false, err
	}
	// The parts run in one group: the first to fail stops the others, and
	// its error is the generation's.
	g, gctx := errgroup.WithContext(runCtx)
	start := func(name string, f func(context.Context) error) {
		g.Go(func() error {
			if err := f(gctx); err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		})
	}
	var httpSrv *server.Server
	var mux *http.ServeMux
	if c.Server.Listen != "" {
		mux = http.NewServeMux()
		mux.Handle("/", handler)
		mux.Handle("/healthz", d.HealthHandler())
		mux.Handle("/metrics", d.MetricsHandler(withBounceMetrics(db, m.clock(), ml.Metrics)))
		web, err := m.newWeb(db, parts)
		if err != nil {
			return false, err
		}
		web.Register(mux)
		if httpSrv, err = server.Listen(ctx, c.Server.Listen, mux, log); err != nil {
			return false, err
		}
		addr = httpSrv.Addr()
		defer web.Wait()
		start("subscriptions", web.Run)
	}

	if err := m.startBounces(gctx, db, mux, start); err != nil {
		return false, err
	}
	start("daemon", d.Run)
	start("mailer", ml.Run)
	start("heartbeat", func(ctx context.Context) error {
		return schedule.RunHeartbeat(ctx, schedule.HeartbeatOptions{
			Store: db, Member: newMember(), OnMembers: ml.ShareRate, Clock: m.clock(), Logger: log,
		})
	})
	if httpSrv != nil {
		start("http", httpSrv.Serve)
	}

	for {
		select {
		case <-gctx.Done():
			_ = schedule.SDNotify("STOPPING=1")
			log.Info("stopping: finishing the scan and the sends in flight")
			if err := g.Wait(); err != nil {
				return false, err
			}
			log.Info("stopped")
			return false, nil
		case <-m.Reload:
			_ = schedule.SDNotify("RELOADING=1")
			path := c.Path
			next, err := LoadConfig(path)
			if err != nil {
				log.Error("reload: keeping the running configuration", "err", err)
				_ = schedule.SDNotify("READY=1\nSTATUS=reload failed: keeping the running configuration")
				continue
			}
			log.Info("reload: configuration is valid, restarting with it", "config", path)
			cancel()
			if err := g.Wait(); err != nil {
				return false, err
			}
			m.Config = next
			return true, nil
		}
	}
}

func httpURL(addr string) string {
	if addr == "" {
		return "off"
	}
	return "http://" + addr + "/feed.xml"
}

func (m *Main) mailDestination() string {
	if m.Config.Mail.Transport == "smtp" {
		return fmt.Sprintf("smtp://%s:%d", m.Config.Mail.SMTP.Host, m.Config.Mail.SMTP.Port)
	}
	return "maildir " + m.Config.Mail.Maildir
}

// mailParts are what the newsletter sender and the subscription pages
// share: made once per configuration.
type mailParts struct {
	composer  *mailer.Composer
	transport mailer.Transport
	secret    []byte
	installID string // names the database in Message-IDs
}

// newMailParts parses the templates (and DKIM key), makes the transport and
// loads the token secret. With send false the transport refuses to send, so
// that preview and dry runs need no SMTP password.
func (m *Main) newMailParts(ctx context.Context, db store.Store, send bool) (mailParts, error) {
	c := &m.Config
	var p mailParts
	var err error
	if p.composer, err = mailer.NewComposer(&c.Mail, &c.Site, m.clock()); err != nil {
		return p, err
	}
	p.transport = noTransport{}
	if send {
		if p.transport, err = mailer.NewTransport(&c.Mail, m.Logger); err != nil {
			return p, err
		}
	}
	if p.installID, err = mailer.LoadInstallID(ctx, db); err != nil {
		return p, err
	}
	p.secret, err = mailer.LoadSecret(ctx, db, c.Server.SecretEnv, c.Server.SecretFile)
	return p, err
}

// newMailer assembles the newsletter sender.
func (m *Main) newMailer(db store.Store, loader *feed.Loader, p mailParts) (*mailer.Mailer, error) {
	c := &m.Config
	return mailer.New(mailer.Options{
		Config:    &c.Mail,
		Site:      &c.Site,
		PublicURL: c.Server.PublicURL,
		Secret:    p.secret,
		InstallID: p.installID,
		Digest:    c.Schedule.Digest != "",
		DB:        db,
		Posts:     loader,
		Composer:  p.composer,
		Transport: p.transport,
		Clock:     mailerClock{m.clock()},
		Logger:    m.Logger,

		ProgressEvery: m.progressEvery,
	})
}

// newWeb assembles the subscription pages from the [server] and [site] sections.
func (m *Main) newWeb(db store.Store, p mailParts) (*mailer.Web, error) {
	c := &m.Config
	return mailer.NewWeb(mailer.WebOptions{
		WebConfig: c.Server.WebConfig,
		SiteTitle: c.Site.Title,
		SiteURL:   c.Site.URL + c.Site.BaseURL + "/",
		Language:  c.Site.Language,
		Secret:    p.secret,
		Store:     db,
		Composer:  p.composer,
		Transport: p.transport,
		Clock:     mailerClock{m.clock()},
		Logger:    m.Logger,
	})
}

// mailerClock is the program's clock as a mailer.TimerClock.
type mailerClock struct{ schedule.Clock }

func (c mailerClock) NewTimer(d time.Duration) mailer.Timer { return c.Clock.NewTimer(d) }

// noTransport is the transport of commands that only render mail.
type noTransport struct{}

func (noTransport) Open(context.Context) (mailer.Conn, error) {
	return nil, errors.New("this command sends no mail")
}

// newMember names this daemon for its heartbeats: "host:pid:random".
func newMember() store.Member {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	pid := os.Getpid()
	return store.Member{
		ID:   fmt.Sprintf("%s:%d:%s", host, pid, hex.EncodeToString(b)),
		Host: host, PID: pid, Version: version(),
	}
}
