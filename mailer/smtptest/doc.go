// Package smtptest is for tests only: it is imported by _test.go files,
// never by Herald's production code.
//
// [New] starts a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1 for the duration of a test: STARTTLS or implicit TLS with a
// self-signed certificate made for the test ([Server.ClientTLS] trusts
// it), AUTH PLAIN refused before TLS, capture of every accepted message
// ([Server.Messages], [Server.To], [Server.Count]) and faults on demand
// ([Options]: 4xx and 5xx answers to RCPT, a connection dropped mid-DATA,
// 421 after N messages on one connection). Every package's tests that
// need an SMTP server use this one, so there is one copy of it.
//
// [Dial] and [DialLMTP] are the other side: a client that hands a message
// to a server under test (Herald's bounce receiver), and [ReplyCode]
// reads the SMTP reply code of a refused message.
package smtptest
