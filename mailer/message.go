package mailer

import "io"

// Message is one complete email for one recipient: its RFC 5322 bytes,
// DKIM-signed when configured. It is immutable and safe to send more than once.
type Message struct {
	to   string // envelope recipient (bare address)
	from string // envelope sender (bare address)
	id   string // Message-ID without <>
	data []byte // CRLF line endings, every line ≤ 998 octets, ASCII
}

// To returns the envelope recipient address.
func (m *Message) To() string { return m.to }

// From returns the envelope sender address (the From address).
func (m *Message) From() string { return m.from }

// ID returns the Message-ID without angle brackets.
func (m *Message) ID() string { return m.id }

// Len returns the size of the message in bytes.
func (m *Message) Len() int { return len(m.data) }

// Bytes returns the message bytes; the caller must not modify them.
func (m *Message) Bytes() []byte { return m.data }

// WriteTo writes the complete message (headers and body, CRLF line endings).
func (m *Message) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(m.data)
	return int64(n), err
}
