package mailer

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// writeKey writes key as PEM (PKCS#1 for RSA when pkcs1, else PKCS#8).
func writeKey(t testing.TB, key any, pkcs1 bool) string {
	t.Helper()
	var block *pem.Block
	if k, ok := key.(*rsa.PrivateKey); ok && pkcs1 {
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	} else {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	path := filepath.Join(t.TempDir(), "dkim.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func verifyDKIM(t *testing.T, raw []byte, keyFile string) []*dkim.Verification {
	t.Helper()
	record, err := DKIMRecord(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT: func(domain string) ([]string, error) {
			if domain != "herald._domainkey.example.com" {
				t.Errorf("lookup of %q", domain)
			}
			return []string{record}, nil
		},
	})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(vs) != 1 {
		t.Fatalf("%d signatures, want 1", len(vs))
	}
	return vs
}

func TestDKIMSignatureVerifies(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := []struct {
		name string
		file string
	}{
		{"rsa-pkcs1", writeKey(t, rsaKey, true)},
		{"rsa-pkcs8", writeKey(t, rsaKey, false)},
		{"ed25519", writeKey(t, edKey, false)},
	}
	for _, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			c := testComposer(t, func(cfg *Config) {
				cfg.DKIM = DKIMConfig{Domain: "example.com", Selector: "herald", KeyFile: k.file}
				cfg.UnsubscribeMailto = "leave@example.com"
			})
			p, err := c.Prepare([]PostMail{{Title: "Café ✓ with a long title so that the signed Subject header is folded", URL: "https://blog.example.com/p/", Date: fixedNow, Section: seedSection()}})
			if err != nil {
				t.Fatal(err)
			}
			m, err := p.Message(testRecipient(), "x.1@blog.example.com")
			if err != nil {
				t.Fatal(err)
			}
			raw := m.Bytes()
			checkMail(t, raw)
			if !bytes.HasPrefix(raw, []byte("DKIM-Signature: ")) {
				t.Fatal("no DKIM-Signature first")
			}
			v := verifyDKIM(t, raw, k.file)[0]
			if v.Err != nil {
				t.Fatalf("signature does not verify: %v", v.Err)
			}
			for _, h := range []string{"from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post"} {
				if !slices.ContainsFunc(v.HeaderKeys, func(k string) bool { return strings.EqualFold(k, h) }) {
					t.Errorf("h= %v lacks %s", v.HeaderKeys, h)
				}
			}

			// Headers are oversigned: a second From, or an added Reply-To,
			// List-Unsubscribe, To or Subject, breaks the signature.
			for _, added := range []string{
				"From: Mallory <mallory@evil.example.net>",
				"Reply-To: mallory@evil.example.net",
				"List-Unsubscribe: <https://evil.example.net/>",
				"To: another@example.org",
				"Subject: Urgent",
				"List-Post: <mailto:evil@example.net>",
			} {
				i := bytes.Index(raw, []byte("\r\nFrom: ")) + 2
				bad := append(append(append([]byte{}, raw[:i]...), added+"\r\n"...), raw[i:]...)
				if v := verifyDKIM(t, bad, k.file)[0]; v.Err == nil {
					t.Errorf("with an added %q the message still verifies", added)
				}
				bad = bytes.Replace(raw, []byte("\r\n\r\n"), []byte("\r\n"+added+"\r\n\r\n"), 1)
				if v := verifyDKIM(t, bad, k.file)[0]; v.Err == nil {
					t.Errorf("with %q added at the end of the header the message still verifies", added)
				}
			}

			// Tampering with a signed header or the body breaks it: the test can fail.
			for _, tamper := range []struct{ old, new string }{
				{"Subject: ", "Subject: Re: "},
				{"List-Unsubscribe: <https://blog.example.com/herald/unsubscribe?token=abc123", "List-Unsubscribe: <https://evil.example.net/?token=abc123"},
				{"Key points", "Key pOints"},
			} {
				bad := bytes.Replace(raw, []byte(tamper.old), []byte(tamper.new), 1)
				if bytes.Equal(bad, raw) {
					t.Fatalf("tamper %q did not apply", tamper.old)
				}
				if v := verifyDKIM(t, bad, k.file)[0]; v.Err == nil {
					t.Errorf("tampered message (%q) still verifies", tamper.new)
				}
			}

			// The confirmation mail is signed too.
			cm, err := c.Confirmation(testRecipient(), "https://blog.example.com/herald/confirm?token=t", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if v := verifyDKIM(t, cm.Bytes(), k.file)[0]; v.Err != nil {
				t.Errorf("confirmation signature: %v", v.Err)
			}
		})
	}
}

func TestDKIMConfigErrors(t *testing.T) {
	// crypto/rsa refuses to generate keys under 1024 bits, but a key file
	// can still hold one: testdata/dkim-rsa768.pem (a throwaway test key).
	small := filepath.Join("testdata", "dkim-rsa768.pem")
	notKey := filepath.Join(t.TempDir(), "x.pem")
	os.WriteFile(notKey, []byte("hello"), 0o600)
	tests := []struct {
		name string
		dkim DKIMConfig
		want string
	}{
		{"missing key file", DKIMConfig{Domain: "example.com", Selector: "s", KeyFile: "/nonexistent/key.pem"}, "mail.dkim.key_file"},
		{"not PEM", DKIMConfig{Domain: "example.com", Selector: "s", KeyFile: notKey}, "no PEM block"},
		{"small key", DKIMConfig{Domain: "example.com", Selector: "s", KeyFile: small}, "768 bits"},
		{"no selector", DKIMConfig{Domain: "example.com", KeyFile: notKey}, "mail.dkim.selector"},
		{"bad domain", DKIMConfig{Domain: "exa mple.com", Selector: "s", KeyFile: notKey}, "mail.dkim.domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			cfg.DKIM = tt.dkim
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestDKIMAligned(t *testing.T) {
	for _, tc := range []struct {
		from, domain string
		want         bool
	}{
		{"news@example.com", "example.com", true},
		{"news@Blog.Example.com", "example.com", true},
		{"news@example.com", "mail.example.com", true},
		{"news@example.com", "example.net", false},
		{"news@badexample.com", "example.com", false},
		{"news@example.com", "esp-mailer.io", false},
	} {
		if got := DKIMAligned(tc.from, tc.domain); got != tc.want {
			t.Errorf("DKIMAligned(%q, %q) = %v, want %v", tc.from, tc.domain, got, tc.want)
		}
	}
}
