// Package server is Herald's HTTP plumbing: it listens where server.listen
// says ([Listen]), adds the security headers to every answer
// ([SecurityHeaders]: a strict Content-Security-Policy, nosniff, no
// referrer, no framing) and shuts down gracefully ([Server.Serve]). The
// routes themselves come from the packages that own them (feeds from feed,
// health and metrics from schedule, subscriptions and bounce webhooks from
// mailer) and are assembled by main.
//
// It imports nothing of Herald's, so every package may use it (the mailer's
// tests check its pages under [SecurityHeaders]).
package server
