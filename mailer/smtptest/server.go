package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options configures a test server; the zero value is a server offering
// STARTTLS and AUTH PLAIN for the account "user" / "secret".
type Options struct {
	Domain      string            // the name in the greeting; "": "localhost"
	NoSTARTTLS  bool              // do not offer STARTTLS
	ImplicitTLS bool              // TLS from the first byte (port 465 style)
	Users       map[string]string // AUTH PLAIN accounts; nil: {"user": "secret"}
	RequireAuth bool              // answer 530 to MAIL before AUTH
	Fail4xx     map[string]int    // address → answer 451 to its first N RCPT tries
	Fail5xx     map[string]bool   // address → answer 550 to RCPT
	DropData    map[string]int    // address → drop the connection mid-DATA on its first N tries
	MaxPerConn  int               // > 0: after N messages on one connection, answer 421 to MAIL and close
	Discard     bool              // count messages but do not keep their bytes (benchmarks)
	// Latency is how long the server takes to accept each message, after
	// reading it and before answering 250 (a relay queueing it); 0: at once.
	Latency time.Duration
	// MaxRecipients > 0 refuses RCPT beyond that many per message.
	MaxRecipients int
}

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	Data []byte
	TLS  bool   // the session was encrypted
	User string // the authenticated user, "" without AUTH
	Conn int    // connection number, from 1
}

// Server is a real SMTP server (emersion/go-smtp) on 127.0.0.1:0 with
// STARTTLS (a self-signed certificate made for the test), AUTH PLAIN that is
// refused before TLS, capture of every message and faults on demand.
type Server struct {
	Addr      string      // host:port
	Host      string      // 127.0.0.1
	Port      int         // the port it listens on
	ClientTLS *tls.Config // trusts the server's certificate
	Password  string      // password of "user"

	opts Options
	srv  *smtp.Server

	mu          sync.Mutex
	msgs        []Message
	count       map[string]int // delivered messages per recipient
	tries       map[string]int // RCPT tries per recipient
	dataTries   map[string]int
	conns       map[*smtp.Conn]*connState
	nconns      int
	clearAuth   int // AUTH commands seen on an unencrypted stream
	authOK      int
	delivered   int       // messages
	first, last time.Time // when the first and the latest message were accepted
	deliveries  int       // (message, recipient) pairs
	rejections  []string
}

type connState struct {
	n    int // connection number
	msgs int // messages accepted on it
}

// New starts a server for the duration of the test (it is closed by
// t.Cleanup).
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Domain == "" {
		opts.Domain = "localhost"
	}
	if opts.Users == nil {
		opts.Users = map[string]string{"user": "secret"}
	}
	cert, pool := selfSignedCert(t)
	s := &Server{
		opts:      opts,
		Password:  opts.Users["user"],
		count:     map[string]int{},
		tries:     map[string]int{},
		dataTries: map[string]int{},
		conns:     map[*smtp.Conn]*connState{},
		ClientTLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"},
	}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = opts.Domain
	srv.AllowInsecureAuth = false
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = opts.MaxRecipients
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if !opts.NoSTARTTLS || opts.ImplicitTLS {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	s.srv = srv

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	var l net.Listener = &sniffListener{Listener: ln, s: s}
	if opts.ImplicitTLS {
		l = tls.NewListener(l, srv.TLSConfig)
	}
	s.Addr = ln.Addr().String()
	host, port, _ := net.SplitHostPort(s.Addr)
	s.Host = host
	fmt.Sscan(port, &s.Port)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

// ImplicitTLS reports whether the server speaks TLS from the first byte
// (Options.ImplicitTLS), as on port 465.
func (s *Server) ImplicitTLS() bool { return s.opts.ImplicitTLS }

// Messages returns a copy of the accepted messages.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// ForgetMessages drops the messages kept so far (Messages and To start
// again from none); the counts (Count, Counts, Delivered) stay.
func (s *Server) ForgetMessages() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = nil
}

// To returns the accepted messages addressed to addr (compared without
// regard to case), in the order they arrived.
func (s *Server) To(addr string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.msgs {
		for _, to := range m.To {
			if strings.EqualFold(to, addr) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// Counts returns how many messages were accepted for each recipient (in
// lower case); it works with Discard too.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.count)
}

// Totals returns how many distinct recipients received at least one
// message, and how many deliveries there were in all (a message to two
// recipients counts twice); it works with Discard too.
func (s *Server) Totals() (recipients, deliveries int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.count), s.deliveries
}

// Window returns when the first and the latest message were accepted (the
// machine's time: for throughput figures), zero before any.
func (s *Server) Window() (first, last time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first, s.last
}

// Rejections returns the refusals of RCPT made on demand (Fail4xx,
// Fail5xx), each as "451 addr" or "550 addr", in order.
func (s *Server) Rejections() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rejections...)
}

// Count returns how many messages were accepted for addr.
func (s *Server) Count(addr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count[strings.ToLower(addr)]
}

// Delivered returns the number of accepted messages.
func (s *Server) Delivered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered
}

// Conns returns the number of TCP connections accepted.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nconns
}

// ClearAuth returns how many AUTH commands arrived unencrypted.
func (s *Server) ClearAuth() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clearAuth
}

// AuthOK returns the number of successful AUTH exchanges.
func (s *Server) AuthOK() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authOK
}

// newSession is called per connection and again after STARTTLS (go-smtp
// resets the session then), so connection state is keyed by *smtp.Conn.
func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, ok := s.conns[c]
	if !ok {
		s.nconns++
		cs = &connState{n: s.nconns}
		s.conns[c] = cs
	}
	_, isTLS := c.TLSConnectionState()
	return &session{s: s, c: c, cs: cs, tls: isTLS}, nil
}

type session struct {
	s    *Server
	c    *smtp.Conn
	cs   *connState
	tls  bool
	user string
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		want, ok := ss.s.opts.Users[username]
		if !ok || want != password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication failed"}
		}
		ss.user = username
		ss.s.mu.Lock()
		ss.s.authOK++
		ss.s.mu.Unlock()
		return nil
	}), nil
}

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	s := ss.s
	if s.opts.RequireAuth && ss.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	s.mu.Lock()
	over := s.opts.MaxPerConn > 0 && ss.cs.msgs >= s.opts.MaxPerConn
	s.mu.Unlock()
	if over {
		// Like a real server: say 421 and hang up.
		nc := ss.c.Conn()
		fmt.Fprintf(nc, "421 4.7.0 too many messages on this connection, closing\r\n")
		nc.Close()
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "closing"}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	s := ss.s
	addr := strings.ToLower(to)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tries[addr]++
	if s.opts.Fail5xx[addr] {
		s.rejections = append(s.rejections, "550 "+addr)
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	if n := s.opts.Fail4xx[addr]; s.tries[addr] <= n {
		s.rejections = append(s.rejections, "451 "+addr)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "try again later"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	s := ss.s
	drop := false
	s.mu.Lock()
	for _, to := range ss.to {
		addr := strings.ToLower(to)
		if n := s.opts.DropData[addr]; n > 0 {
			s.dataTries[addr]++
			if s.dataTries[addr] <= n {
				drop = true
			}
		}
	}
	s.mu.Unlock()
	if drop {
		io.ReadFull(r, make([]byte, 512)) // take part of the message, then vanish
		ss.c.Conn().Close()
		return errors.New("connection dropped by test")
	}
	var data []byte
	var err error
	if s.opts.Discard {
		_, err = io.Copy(io.Discard, r)
	} else {
		data, err = io.ReadAll(r)
	}
	if err != nil {
		return err
	}
	if s.opts.Latency > 0 {
		time.Sleep(s.opts.Latency)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.delivered == 0 {
		s.first = now
	}
	s.last = now
	ss.cs.msgs++
	s.delivered++
	for _, to := range ss.to {
		s.count[strings.ToLower(to)]++
		s.deliveries++
	}
	if !s.opts.Discard {
		s.msgs = append(s.msgs, Message{From: ss.from, To: append([]string(nil), ss.to...), Data: data, TLS: ss.tls, User: ss.user, Conn: ss.cs.n})
	}
	return nil
}

func (ss *session) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *session) Logout() error { return nil }

// sniffListener wraps accepted connections to spot AUTH commands sent in
// clear text (after STARTTLS the stream is ciphertext and cannot match).
type sniffListener struct {
	net.Listener
	s *Server
}

func (l *sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, s: l.s, tlsFromStart: l.s.opts.ImplicitTLS}, nil
}

type sniffConn struct {
	net.Conn
	s            *Server
	tlsFromStart bool
	encrypted    bool
	tail         []byte
}

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.tlsFromStart && !c.encrypted {
		buf := bytes.ToUpper(append(c.tail, p[:n]...))
		if bytes.Contains(buf, []byte("\nAUTH ")) || bytes.HasPrefix(buf, []byte("AUTH ")) {
			c.s.mu.Lock()
			c.s.clearAuth++
			c.s.mu.Unlock()
			buf = nil
		}
		// After STARTTLS the stream is ciphertext: stop looking.
		if bytes.Contains(buf, []byte("STARTTLS\r\n")) {
			c.encrypted = true
		}
		if len(buf) > 10 {
			buf = buf[len(buf)-10:]
		}
		c.tail = append(c.tail[:0], buf...)
	}
	return n, err
}

// selfSignedCert makes a certificate for 127.0.0.1 and localhost, and a pool
// trusting it.
func selfSignedCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "herald test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
