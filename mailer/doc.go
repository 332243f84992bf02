// Package mailer is Herald's newsletter.
//
// A [Composer] turns posts into mail: [Composer.Prepare] renders the
// newsletter of one post (or a digest) from the templates once, and
// [Prepared.Message] addresses it to each subscriber (headers, their own
// unsubscribe link, DKIM). A [Transport] ([MaildirTransport] or
// [SMTPTransport], made by [NewTransport]) delivers messages. The [Mailer]
// is the delivery worker ([Mailer.Run], [Mailer.Drain]) over the
// store's ledger: each announcement is sent at most once per subscriber,
// failures are retried with backoff, and one failed recipient never stops
// the others; it also previews ([Mailer.Preview]) and test-sends.
//
// A mail is made from the snapshot of each post taken when the post is
// announced ([Mailer.MailSnapshot]: the section rendered and bounded, the
// title, URL and date, or why the post is not mailed), which the store
// keeps with the announcement: a post broken, renamed or edited after its
// announcement is mailed as it was announced. Only announcements made
// without one (before snapshots existed) read the post when mailed; one
// that cannot be read then makes its mailing wait (recorded in the store,
// with the next try) rather than fail.
//
// The subscription pages are a [Web]: subscribe, confirm (double opt-in),
// unsubscribe (one click, RFC 8058), with signed [Token]s and rate limits.
// [Bounces] turns bounce messages and webhook events (package
// herald/mailer/bounce) into suppressions.
//
// Configuration: [Config] is the [mail] section; [WebConfig] is the
// subscription pages' part of [server]. Time comes from a [Clock] (nil: the
// system clock); the parts that wait (the worker, its pacer, the pages'
// janitor) take a [TimerClock] and make their timers from it. mailer imports feed and the store contract
// (herald/schedule/store) only, and is the only importer of go-mail and
// go-msgauth.
package mailer
