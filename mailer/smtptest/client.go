package smtptest

import (
	"errors"
	"io"
	"net"
	"testing"

	"github.com/emersion/go-smtp"
)

// Client is an SMTP or LMTP client connected to a server under test.
type Client struct {
	c *smtp.Client
}

// Dial connects to the SMTP server at addr (host:port); the connection is
// closed when the test ends.
func Dial(t testing.TB, addr string) *Client {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatalf("smtptest: dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &Client{c: c}
}

// DialLMTP connects to the LMTP server at addr (host:port) and greets it
// with LHLO helo, as an MTA's lmtp transport does; the connection is
// closed when the test ends.
func DialLMTP(t testing.TB, addr, helo string) *Client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("smtptest: dial %s: %v", addr, err)
	}
	c := smtp.NewClientLMTP(conn)
	t.Cleanup(func() { c.Close() })
	if err := c.Hello(helo); err != nil {
		t.Fatalf("smtptest: LHLO %s: %v", addr, err)
	}
	return &Client{c: c}
}

// Send hands one message from the envelope sender from (may be empty, as
// for a bounce) to the recipients to. The error of a refused message
// carries the server's reply code ([ReplyCode]).
func (c *Client) Send(from string, to []string, msg io.Reader) error {
	return c.c.SendMail(from, to, msg)
}

// ReplyCode returns the SMTP reply code (451, 550, …) of an error returned
// by [Client.Send], or 0 when err carries none.
func ReplyCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}
