package schedule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// pingHub tells the WebSub hub (feeds.hub) that the main feeds among the
// changed files were updated. It runs in the background and never blocks
// the scan: each feed is POSTed (hub.mode=publish, hub.url=FEED_URL) with up
// to hubTries attempts and exponential backoff; a hub that keeps failing is
// logged and given up on until the next change.
func (d *Daemon) pingHub(changed []string) {
	hub := d.opts.Feeds.Hub
	if hub == "" {
		return
	}
	var urls []string
	for _, name := range changed {
		if strings.Contains(name, "/") {
			continue // per-tag feeds are not pinged
		}
		urls = append(urls, strings.TrimSuffix(d.opts.Feeds.URL, "/")+"/"+name)
	}
	if len(urls) == 0 {
		return
	}
	d.pings.Add(1)
	go func() {
		defer d.pings.Done()
		for _, u := range urls {
			d.publishWithRetry(d.bg, hub, u)
		}
	}()
}

// publishWithRetry pings hub about feedURL until it succeeds, fails
// permanently, runs out of tries, or ctx ends.
func (d *Daemon) publishWithRetry(ctx context.Context, hub, feedURL string) {
	backoff := hubBackoff
	for try := 1; ; try++ {
		err := d.publish(ctx, hub, feedURL)
		d.mu.Lock()
		d.hubPings++
		if err != nil {
			d.hubFailures++
		}
		d.mu.Unlock()
		if err == nil {
			d.log.Info("WebSub hub notified", "hub", hub, "feed", feedURL)
			return
		}
		var perm permanentError
		if errors.As(err, &perm) || try >= hubTries || ctx.Err() != nil {
			d.log.Warn("WebSub hub ping failed; giving up until the next change", "hub", hub, "feed", feedURL, "tries", try, "err", err)
			return
		}
		d.log.Info("WebSub hub ping failed; retrying", "hub", hub, "feed", feedURL, "try", try, "retry_in", backoff, "err", err)
		t := d.clock.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			d.log.Warn("WebSub hub ping cancelled", "hub", hub, "feed", feedURL)
			return
		case <-t.C():
		}
		backoff *= 2
	}
}

// permanentError is a hub answer that retrying will not fix (a 4xx other
// than 408 and 429).
type permanentError struct{ error }

// publish sends one form-encoded publish request.
func (d *Daemon) publish(ctx context.Context, hub, feedURL string) error {
	form := url.Values{"hub.mode": {"publish"}, "hub.url": {feedURL}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hub, strings.NewReader(form.Encode()))
	if err != nil {
		return permanentError{fmt.Errorf("schedule: websub: %w", err)}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "Herald")
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("schedule: websub: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("schedule: websub: hub answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	if resp.StatusCode >= 400 && resp.StatusCode < 500 &&
		resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests {
		return permanentError{err}
	}
	return err
}
