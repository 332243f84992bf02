// Package server runs Herald's HTTP server: it owns the [server] section of
// the configuration, adds security headers to every answer, and shuts down
// gracefully. The routes themselves come from the packages that own them
// (feeds from feed, health and metrics from schedule, subscriptions from
// mailer) and are assembled by main.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"herald/feed"
)

// Config is the [server] section of the configuration.
type Config struct {
	Listen     string        `toml:"listen"`      // "127.0.0.1:8080"; "" = no HTTP server
	PublicURL  string        `toml:"public_url"`  // absolute base of links in emails (confirm, unsubscribe)
	SecretEnv  string        `toml:"secret_env"`  // environment variable holding the token secret
	SecretFile string        `toml:"secret_file"` // file holding the token secret; neither: generated once and kept in the database
	PendingTTL feed.Duration `toml:"pending_ttl"` // unconfirmed subscriptions are deleted after this
	TrustProxy bool          `toml:"trust_proxy"` // take the client IP from X-Forwarded-For when the peer is a loopback proxy
	RateLimit  RateLimit     `toml:"rate_limit"`
}

// RateLimit bounds POST /subscribe.
type RateLimit struct {
	PerIP          int `toml:"per_ip"`           // subscribe requests per IP per hour
	PerAddress     int `toml:"per_address"`      // subscribe requests per email address per hour
	PendingPerHour int `toml:"pending_per_hour"` // new pending subscriptions per hour, all addresses
	MaxBodyBytes   int `toml:"max_body_bytes"`   // request body limit
}

// Default returns the [server] defaults.
func Default() Config {
	return Config{
		Listen:     "127.0.0.1:8080",
		PendingTTL: feed.Duration{Duration: 7 * 24 * time.Hour},
		RateLimit: RateLimit{
			PerIP:          10,
			PerAddress:     3,
			PendingPerHour: 100,
			MaxBodyBytes:   8 << 10,
		},
	}
}

// Validate checks the section; defaultPublic is used when public_url is
// empty (the site URL with "/herald" appended, say).
func (c *Config) Validate(defaultPublic string) error {
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return fmt.Errorf("server.listen: want host:port such as \"127.0.0.1:8080\", got %q", c.Listen)
		}
	}
	if c.PublicURL == "" {
		c.PublicURL = defaultPublic
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("server.public_url: must be an absolute http(s) URL, got %q", c.PublicURL)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.PendingTTL.Duration <= 0 {
		return fmt.Errorf("server.pending_ttl: must be positive, got %s", c.PendingTTL.Duration)
	}
	rl := c.RateLimit
	for _, f := range []struct {
		key string
		v   int
	}{
		{"server.rate_limit.per_ip", rl.PerIP},
		{"server.rate_limit.per_address", rl.PerAddress},
		{"server.rate_limit.pending_per_hour", rl.PendingPerHour},
		{"server.rate_limit.max_body_bytes", rl.MaxBodyBytes},
	} {
		if f.v <= 0 {
			return fmt.Errorf("%s: must be positive, got %d", f.key, f.v)
		}
	}
	return nil
}

// Server is an HTTP server bound to its listener.
type Server struct {
	srv    *http.Server
	ln     net.Listener
	logger *slog.Logger
}

// Listen binds addr (port 0 picks a free port) and prepares to serve h with
// security headers on every answer.
func Listen(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server: listen %s: %w", addr, err)
	}
	return &Server{
		ln:     ln,
		logger: logger,
		srv: &http.Server{
			Handler:           SecurityHeaders(h),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    32 << 10,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
	}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until ctx is cancelled, then shuts down gracefully, giving
// requests in flight up to 10 seconds.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// SecurityHeaders sets the headers every answer carries: a strict
// Content-Security-Policy (no scripts, no external resources, no framing),
// nosniff and a referrer policy that keeps tokens in URLs private.
func SecurityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}
