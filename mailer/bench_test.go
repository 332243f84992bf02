package mailer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"herald/feed"
	"herald/mailer/smtptest"
)

// benchSection is about 12 KB of HTML and 7 KB of text: with the template
// and quoted-printable the message is about 20 KB, the size of the issue's
// benchmark.
func benchSection() *feed.Section {
	s := seedSection()
	html, text := s.HTML, s.Text
	for range 5 {
		s.HTML += "\n" + html
		s.Text += "\n\n" + text
	}
	return s
}

func benchPrepared(b *testing.B) *Prepared {
	b.Helper()
	c := testComposer(b, nil)
	p, err := c.Prepare([]PostMail{{Title: "Finishing my Data Career Masterplan", URL: "https://blog.example.com/2023/10/06/finishing/", Date: fixedNow, Section: benchSection()}})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func benchRecipient(i int) Recipient {
	return Recipient{
		Email:          fmt.Sprintf("subscriber%d@example.org", i),
		UnsubscribeURL: fmt.Sprintf("https://blog.example.com/herald/unsubscribe?token=%032d", i),
	}
}

// BenchmarkPreparedMessage measures the per-recipient cost of a mailing:
// Prepare once, then Message and WriteTo for each subscriber.
func BenchmarkPreparedMessage(b *testing.B) {
	p := benchPrepared(b)
	m, _ := p.Message(benchRecipient(0), "m0@x")
	b.SetBytes(int64(m.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := p.Message(benchRecipient(i), fmt.Sprintf("m%d@blog.example.com", i))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkPrepare measures rendering a mailing once (templates, styles,
// quoted-printable of the static parts).
func BenchmarkPrepare(b *testing.B) {
	c := testComposer(b, nil)
	posts := []PostMail{{Title: "Finishing my Data Career Masterplan", URL: "https://blog.example.com/p/", Date: fixedNow, Section: benchSection()}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Prepare(posts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSMTPTransport is Herald's path without the ledger: Message per
// recipient and Send over reused STARTTLS+AUTH connections to the
// in-process sink, at concurrency 1 and 4.
func BenchmarkSMTPTransport(b *testing.B) {
	for _, conc := range []int{1, 4} {
		b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
			srv := smtptest.New(b, smtptest.Options{Discard: true})
			tr := smtpTransport(b, srv, smtpConfig(b, srv))
			p := benchPrepared(b)
			conns := make([]Conn, conc)
			for i := range conns {
				c, err := tr.Open(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				conns[i] = c
				defer c.Close()
			}
			var next atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for _, c := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := int(next.Add(1)) - 1
						if i >= b.N {
							return
						}
						m, err := p.Message(benchRecipient(i), fmt.Sprintf("m%d@blog.example.com", i))
						if err != nil {
							b.Error(err)
							return
						}
						if err := c.Send(context.Background(), m); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			if got := srv.Delivered(); got != b.N {
				b.Fatalf("sink got %d messages, want %d", got, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkGoMailCeiling is the ceiling: go-mail alone sending pre-built
// ~20 KB messages (its default quoted-printable encoding, one recipient
// each) to the same sink over reused STARTTLS+AUTH connections.
func BenchmarkGoMailCeiling(b *testing.B) {
	// The same text and HTML as Herald's message, decoded from it.
	text, html := decodeParts(b, benchPrepared(b))
	for _, conc := range []int{1, 4} {
		b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
			srv := smtptest.New(b, smtptest.Options{Discard: true})
			const pool = 16 // per client: a Msg is never sent by two clients at once
			msgs := make([]*gomail.Msg, pool*conc)
			for i := range msgs {
				m := gomail.NewMsg()
				if err := m.From("news@example.com"); err != nil {
					b.Fatal(err)
				}
				if err := m.To(fmt.Sprintf("subscriber%d@example.org", i)); err != nil {
					b.Fatal(err)
				}
				m.Subject("Finishing my Data Career Masterplan")
				m.SetDate()
				m.SetMessageIDWithValue(fmt.Sprintf("m%d@blog.example.com", i))
				m.SetBodyString(gomail.TypeTextPlain, text)
				m.AddAlternativeString(gomail.TypeTextHTML, html)
				msgs[i] = m
			}
			var sz countWriter
			msgs[0].WriteTo(&sz)
			b.SetBytes(int64(sz))
			clients := make([]*gomail.Client, conc)
			for i := range clients {
				c, err := gomail.NewClient(srv.Host, gomail.WithPort(srv.Port), gomail.WithTLSPolicy(gomail.TLSMandatory),
					gomail.WithTLSConfig(srv.ClientTLS), gomail.WithSMTPAuth(gomail.SMTPAuthPlain),
					gomail.WithUsername("user"), gomail.WithPassword(srv.Password), gomail.WithTimeout(10*time.Second))
				if err != nil {
					b.Fatal(err)
				}
				if err := c.DialWithContext(context.Background()); err != nil {
					b.Fatal(err)
				}
				clients[i] = c
				defer c.Close()
			}
			var next atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for ci, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := 0; ; j++ {
						i := int(next.Add(1)) - 1
						if i >= b.N {
							return
						}
						if err := c.Send(msgs[ci*pool+j%pool]); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			if got := srv.Delivered(); got != b.N {
				b.Fatalf("sink got %d messages, want %d", got, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// decodeParts returns the decoded text and HTML parts of a message of p.
func decodeParts(b *testing.B, p *Prepared) (text, html string) {
	b.Helper()
	m, err := p.Message(benchRecipient(0), "m0@x")
	if err != nil {
		b.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(m.Bytes()))
	if err != nil {
		b.Fatal(err)
	}
	_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(part)
		if strings.HasPrefix(part.Header.Get("Content-Type"), "text/plain") {
			text = string(body)
		} else {
			html = string(body)
		}
	}
	if text == "" || html == "" {
		b.Fatal("parts not found")
	}
	return text, html
}

type countWriter int

func (w *countWriter) Write(p []byte) (int, error) { *w += countWriter(len(p)); return len(p), nil }
