package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Config is the HTTP server's part of the [server] section. The other keys
// of that section (public_url, secret_env, secret_file, pending_ttl,
// trust_proxy, rate_limit) configure the subscription pages and belong to
// mailer.WebConfig; main decodes both from the one section.
type Config struct {
	Listen string `toml:"listen"` // "127.0.0.1:8080"; "" = no HTTP server
}

// Default returns the defaults of the server's keys.
func Default() Config {
	return Config{Listen: "127.0.0.1:8080"}
}

// Validate checks server.listen.
func (c *Config) Validate() error {
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return fmt.Errorf("server.listen: want host:port such as \"127.0.0.1:8080\", got %q", c.Listen)
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
