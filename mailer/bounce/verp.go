package bounce

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Tag names one delivery: the mailing and the subscriber it was sent to.
type Tag struct {
	Mailing    int64
	Subscriber int64
}

// ErrBadTag is returned for an address in the VERP form of the bounce
// address whose MAC does not verify: a forgery or a damaged address. A
// message carrying one must change nothing.
var ErrBadTag = errors.New("bounce: VERP address with a bad signature")

// verpMACLen is the length in bytes of the truncated HMAC in a VERP
// address: 64 bits, 13 base32 characters.
const verpMACLen = 8

// b32 is lowercase base32 without padding: case-insensitive safe once the
// address is lowercased, and only letters and digits 2-7.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// VERP makes and checks the envelope senders that name a delivery:
// local+MAILING.SUBSCRIBER.MAC@domain for the bounce address local@domain.
// The MAC is a truncated HMAC-SHA256 with the token secret; addresses are
// compared case-insensitively (some MTAs change the case of local parts).
type VERP struct {
	local, domain string // lowercased
	secret        []byte
}

// NewVERP returns a VERP for the bounce address addr ("bounces@example.com",
// bare, without '+' in its local part) signing with secret.
func NewVERP(addr string, secret []byte) (*VERP, error) {
	local, domain, ok := splitAddr(addr)
	if !ok || local == "" || domain == "" {
		return nil, fmt.Errorf("bounce: bounce address %q: want local@domain", addr)
	}
	if strings.ContainsAny(local, "+\"\\ ") {
		return nil, fmt.Errorf("bounce: bounce address %q: the local part must not contain '+', quotes or spaces", addr)
	}
	if len(secret) == 0 {
		return nil, errors.New("bounce: VERP needs a secret")
	}
	return &VERP{local: strings.ToLower(local), domain: strings.ToLower(domain), secret: secret}, nil
}

// Domain returns the bounce address's domain (lowercase).
func (v *VERP) Domain() string { return v.domain }

// Address returns the plain bounce address.
func (v *VERP) Address() string { return v.local + "@" + v.domain }

// Encode returns the envelope sender for the delivery of mailing to
// subscriber, such as "bounces+12.345.mfrggzdfmztwq2l@example.com".
func (v *VERP) Encode(t Tag) string {
	return v.local + "+" + strconv.FormatInt(t.Mailing, 10) + "." + strconv.FormatInt(t.Subscriber, 10) +
		"." + b32.EncodeToString(v.mac(t)) + "@" + v.domain
}

func (v *VERP) mac(t Tag) []byte {
	h := hmac.New(sha256.New, v.secret)
	fmt.Fprintf(h, "verp|%d|%d", t.Mailing, t.Subscriber)
	return h.Sum(nil)[:verpMACLen]
}

// Decode checks addr. It returns the tag and true for a VERP address of
// this bounce address with a valid MAC; false and nil for any other
// address (the plain bounce address included); ErrBadTag for an address in
// the VERP form of this bounce address whose MAC or numbers do not verify.
// Angle brackets and surrounding space are ignored.
func (v *VERP) Decode(addr string) (Tag, bool, error) {
	addr = strings.ToLower(strings.Trim(strings.TrimSpace(addr), "<>"))
	local, domain, ok := splitAddr(addr)
	if !ok || domain != v.domain || !strings.HasPrefix(local, v.local+"+") {
		return Tag{}, false, nil
	}
	parts := strings.Split(local[len(v.local)+1:], ".")
	if len(parts) != 3 {
		return Tag{}, false, fmt.Errorf("%w: %q", ErrBadTag, addr)
	}
	m, err1 := strconv.ParseInt(parts[0], 10, 64)
	s, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || m <= 0 || s <= 0 {
		return Tag{}, false, fmt.Errorf("%w: %q", ErrBadTag, addr)
	}
	t := Tag{Mailing: m, Subscriber: s}
	// The address must be exactly the one Encode makes: comparing decoded
	// MACs would also accept the other spellings of the same bytes (the
	// 13th base32 character carries one bit the MAC does not use, and
	// numbers may be written "07" or "+7"), so that changing a valid
	// address could still verify.
	if !hmac.Equal([]byte(local+"@"+domain), []byte(v.Encode(t))) {
		return Tag{}, false, fmt.Errorf("%w: %q", ErrBadTag, addr)
	}
	return t, true, nil
}

// splitAddr splits a bare address at its last '@'.
func splitAddr(addr string) (local, domain string, ok bool) {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return "", "", false
	}
	return addr[:i], addr[i+1:], true
}
