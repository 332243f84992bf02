package mailer

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"herald/feed"
)

// WebConfig is the subscription pages' part of the [server] section (the
// server's own key, listen, belongs to schedule/server): the public address
// of the links in mails, the token secret, the life of unconfirmed
// subscriptions, the client address behind a proxy and the rate limits of
// POST /subscribe. The keys keep their place under [server]; main decodes
// this part and the server's from the one section.
type WebConfig struct {
	// PublicURL is the absolute base of the links in mails, without a
	// trailing slash ("https://blog.example.com/herald"). A reverse proxy
	// may strip its path: the handlers are registered at the server root
	// and their pages only use relative links.
	PublicURL  string        `toml:"public_url"`
	SecretEnv  string        `toml:"secret_env"`  // environment variable holding the token secret
	SecretFile string        `toml:"secret_file"` // file holding the token secret; neither: generated once and kept in the database
	PendingTTL feed.Duration `toml:"pending_ttl"` // unconfirmed subscriptions are deleted after this, 7 days
	// TrustProxy makes the client IP the last address of X-Forwarded-For
	// when the connection comes from a loopback address (a reverse proxy on
	// the same machine). Without it, or from any other peer, the header is
	// ignored: clients could otherwise forge it to escape the per-IP limit.
	// Behind a proxy without TrustProxy, every client shares the proxy's
	// IP and the per-IP limit acts as a global one.
	TrustProxy bool `toml:"trust_proxy"`
	// RateLimit is [server.rate_limit]; its fields are promoted, so
	// WebOptions.PerIP is WebOptions.RateLimit.PerIP.
	RateLimit `toml:"rate_limit"`
}

// RateLimit bounds POST /subscribe, per hour (token buckets: the whole
// allowance may be used at once).
type RateLimit struct {
	PerIP          int   `toml:"per_ip"`           // subscribe requests per client IP (IPv6: per /64)
	PerAddress     int   `toml:"per_address"`      // subscribe requests per email address
	PendingPerHour int   `toml:"pending_per_hour"` // confirmation mails per hour, all addresses together
	MaxBodyBytes   int64 `toml:"max_body_bytes"`   // request body limit
}

// DefaultWeb returns the defaults of the subscription pages' keys.
// PublicURL has none: Validate derives it from the site.
func DefaultWeb() WebConfig {
	return WebConfig{
		PendingTTL: feed.Duration{Duration: 7 * 24 * time.Hour},
		RateLimit: RateLimit{
			PerIP:          10,
			PerAddress:     3,
			PendingPerHour: 100,
			MaxBodyBytes:   8 << 10,
		},
	}
}

// Validate checks the keys, naming them as they are written in the
// configuration (server.public_url, …); defaultPublic is used when
// public_url is empty (the site URL with "/herald" appended, say).
func (c *WebConfig) Validate(defaultPublic string) error {
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
		v   int64
	}{
		{"server.rate_limit.per_ip", int64(rl.PerIP)},
		{"server.rate_limit.per_address", int64(rl.PerAddress)},
		{"server.rate_limit.pending_per_hour", int64(rl.PendingPerHour)},
		{"server.rate_limit.max_body_bytes", rl.MaxBodyBytes},
	} {
		if f.v <= 0 {
			return fmt.Errorf("%s: must be positive, got %d", f.key, f.v)
		}
	}
	return nil
}

// withDefaults fills the zero fields from DefaultWeb.
func (c WebConfig) withDefaults() WebConfig {
	d := DefaultWeb()
	if c.PendingTTL.Duration <= 0 {
		c.PendingTTL = d.PendingTTL
	}
	if c.PerIP <= 0 {
		c.PerIP = d.PerIP
	}
	if c.PerAddress <= 0 {
		c.PerAddress = d.PerAddress
	}
	if c.PendingPerHour <= 0 {
		c.PendingPerHour = d.PendingPerHour
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	return c
}
