// Package schedule is Herald's daemon: it decides when to scan the posts
// folder (cron ticks, an exact timer at the next future-dated post, a
// debounced file watch), works out which posts are newly due, records their
// announcements in the state database, regenerates and publishes the feeds
// (files, the HTTP handler, WebSub pings), wakes the newsletter, and reports
// its health (/healthz, /metrics, sd_notify, `herald status`).
//
// It is the only package that imports robfig/cron (for parsing specs only)
// and fsnotify; time comes from an injectable Clock.
package schedule
