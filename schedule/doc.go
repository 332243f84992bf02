// Package schedule is Herald's daemon.
//
// A [Daemon] ([New]) decides when to scan the posts folder: cron ticks
// (schedule.cron), an exact timer at the next future-dated post and a
// debounced file watch, all in one loop ([Daemon.Run]) so two scans never
// overlap. Each scan ([Daemon.Scan]) works out which posts are newly due,
// records their announcements in the store (each post is announced once,
// ever), regenerates and publishes the feeds (files, the HTTP handler,
// WebSub pings) and wakes the newsletter. A post being announced for mail
// gets the newsletter's snapshot ([MailSnapshotter]) in the announcement's
// transaction. A published post whose content changes gets an edit time in
// the store, which the feeds show as the entry's updated ([WithEdits]).
// The daemon reports its health
// ([Daemon.Health], [Daemon.MetricsHandler], sd_notify and its watchdog);
// [Status] is `herald status`, read from the store by another process.
//
// Time comes from an injected [Clock] ([SystemClock] in production). The
// store is reached through the small interfaces declared here ([Store],
// [StatusStore]), the newsletter through [Newsletter]. schedule is the only
// importer of robfig/cron (for parsing specs only) and fsnotify.
package schedule
