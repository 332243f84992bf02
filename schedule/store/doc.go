// Package store holds what Herald remembers, independent of where it is
// kept: the types of the state (posts seen, announcements, subscribers,
// mailings, deliveries), its sentinel errors, the [state] configuration
// section, and [Store], the contract that every backend satisfies.
//
// The backends are subpackages: [herald/schedule/store/sqlite] (the default,
// one file). Backends import this package; this package imports no backend
// and nothing else of Herald's. The packages that use the state
// (schedule, mailer) declare the small interfaces they consume, which any
// backend's value satisfies; only package main chooses the backend.
//
// The ledger's life cycle: an announcement waiting in the queue becomes
// part of a mailing; expanding the mailing inserts one delivery per
// confirmed subscriber; a worker claims due deliveries (pending or retry →
// sending), sends each, and records the outcome (sent, retry, failed).
// Every step is its own short transaction, so after a crash the ledger says
// exactly which messages may have been in flight.
package store
