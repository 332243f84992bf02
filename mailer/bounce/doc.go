// Package bounce understands what comes back after Herald mails a list:
// delivery status notifications (RFC 3464), complaint reports (ARF, RFC
// 5965), auto-replies, the common non-standard bounce texts (only when a
// VERP address proves which delivery they are about), and the bounce and
// complaint webhooks of Amazon SES (through SNS), Postmark, Mailgun and
// SendGrid, each verified by its signature.
//
// It also takes the messages in: an LMTP/SMTP receiver (Receiver) for an
// MTA that routes the bounce address to Herald, and an IMAP poller
// (Poller) that reads a mailbox and moves what it recognised to a folder,
// never deleting or touching anything else.
//
// The package knows nothing of the store or of subscribers: it turns input
// into Events (who, what kind, which status, which delivery) and hands them
// to the caller. The policy (suppress, unsubscribe) is the caller's.
package bounce
