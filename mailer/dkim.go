package mailer

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// dkimHeaders are the header fields signed, when present. The issue asks
// for From, To, Subject, Date, Message-ID, List-Unsubscribe and
// List-Unsubscribe-Post; the MIME and List-Id fields are signed too so that
// they cannot be altered either.
var dkimHeaders = []string{
	"From", "To", "Subject", "Date", "Message-ID",
	"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id",
	"MIME-Version", "Content-Type",
}

// dkimOversigned are signed once more than they occur (RFC 6376 §5.4.2):
// a receiver then sees a second From, or an added List-Unsubscribe, as a
// broken signature, so no one can add one to a signed message. Those not in
// the message (Reply-To, Cc, the List-* fields Herald does not write) are
// signed as absent: adding one breaks the signature too.
var dkimOversigned = []string{
	"From", "To", "Subject", "Date", "Message-ID", "Reply-To", "Cc", "Sender",
	"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id",
	"List-Post", "List-Help", "List-Subscribe", "List-Owner", "List-Archive",
}

// dkimSigner signs rendered messages with go-msgauth (relaxed/relaxed,
// rsa-sha256 or ed25519-sha256).
type dkimSigner struct {
	domain, selector string
	key              crypto.Signer
}

func newDKIMSigner(cfg *DKIMConfig) (*dkimSigner, error) {
	if !isDomain(cfg.Domain) || !isDomain(cfg.Selector) {
		return nil, fmt.Errorf("domain %q and selector %q must be DNS names", cfg.Domain, cfg.Selector)
	}
	key, err := loadDKIMKey(cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	return &dkimSigner{domain: cfg.Domain, selector: cfg.Selector, key: key}, nil
}

// sign returns msg with a DKIM-Signature header field prepended.
func (s *dkimSigner) sign(msg []byte) ([]byte, error) {
	keys := make([]string, 0, len(dkimHeaders)+len(dkimOversigned))
	hdr, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	for _, k := range dkimHeaders {
		if hasHeader(hdr, k) {
			keys = append(keys, k)
		}
	}
	keys = append(keys, dkimOversigned...)
	signer, err := dkim.NewSigner(&dkim.SignOptions{
		Domain:                 s.domain,
		Selector:               s.selector,
		Signer:                 s.key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             keys,
	})
	if err != nil {
		return nil, fmt.Errorf("mailer: dkim: %w", err)
	}
	if _, err := signer.Write(msg); err != nil {
		signer.Close()
		return nil, fmt.Errorf("mailer: dkim: %w", err)
	}
	if err := signer.Close(); err != nil {
		return nil, fmt.Errorf("mailer: dkim: %w", err)
	}
	sig := signer.Signature()
	out := make([]byte, 0, len(sig)+len(msg))
	out = append(out, sig...)
	return append(out, msg...), nil
}

// hasHeader reports whether the header block holds a field named name.
func hasHeader(hdr []byte, name string) bool {
	for len(hdr) > 0 {
		line := hdr
		if i := bytes.Index(hdr, []byte("\r\n")); i >= 0 {
			line, hdr = hdr[:i], hdr[i+2:]
		} else {
			hdr = nil
		}
		if len(line) > len(name) && line[len(name)] == ':' && strings.EqualFold(string(line[:len(name)]), name) {
			return true
		}
	}
	return false
}

// loadDKIMKey reads a PEM private key: RSA (PKCS#1 or PKCS#8, at least 1024
// bits) or Ed25519 (PKCS#8).
func loadDKIMKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading DKIM key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block (want a PEM private key)", path)
	}
	var key any
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%s: PEM block %q is not a private key (want RSA PRIVATE KEY or PRIVATE KEY)", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 1024 {
			return nil, fmt.Errorf("%s: RSA key has %d bits, want at least 1024 (2048 recommended)", path, k.N.BitLen())
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("%s: unsupported key type %T (want RSA or Ed25519)", path, key)
	}
}

// DKIMRecord returns the DNS TXT record value to publish at
// <selector>._domainkey.<domain> for the key in keyFile, such as
// "v=DKIM1; k=rsa; p=MIIB…".
func DKIMRecord(keyFile string) (string, error) {
	key, err := loadDKIMKey(keyFile)
	if err != nil {
		return "", fmt.Errorf("mailer: %w", err)
	}
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", fmt.Errorf("mailer: %w", err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	}
	return "", errors.New("mailer: unsupported DKIM key type")
}

// DKIMAligned reports whether a DKIM signature by domain is aligned with the
// From address from under DMARC's relaxed alignment: the domains are equal,
// or one is a subdomain of the other (an approximation of "the same
// organizational domain" without the public suffix list). A signature that
// is not aligned does not count for DMARC: mail from a domain with a DMARC
// policy then fails it.
func DKIMAligned(from, domain string) bool {
	f := strings.ToLower(strings.TrimSuffix(from[strings.LastIndexByte(from, '@')+1:], "."))
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	return f == d || strings.HasSuffix(f, "."+d) || strings.HasSuffix(d, "."+f)
}
