package bounce

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestVERPRoundTrip(t *testing.T) {
	v := testVERP(t)
	for _, tag := range []Tag{{1, 1}, {12, 345}, {1 << 40, 1<<62 + 3}} {
		addr := v.Encode(tag)
		if !strings.HasPrefix(addr, "bounces+") || !strings.HasSuffix(addr, "@bounce.herald.test") {
			t.Fatalf("Encode(%v) = %q", tag, addr)
		}
		if local, _, _ := splitAddr(addr); len(local) > 64 {
			t.Fatalf("local part of %q is over 64 bytes", addr)
		}
		for _, form := range []string{addr, strings.ToUpper(addr), "<" + addr + ">", " " + addr} {
			got, ok, err := v.Decode(form)
			if err != nil || !ok || got != tag {
				t.Fatalf("Decode(%q) = %v, %v, %v; want %v", form, got, ok, err, tag)
			}
		}
	}
}

func TestVERPRejects(t *testing.T) {
	v := testVERP(t)
	good := v.Encode(Tag{7, 8})
	other, _ := NewVERP("bounces@bounce.herald.test", []byte("another-secret-of-some-length"))
	for _, addr := range []string{
		strings.Replace(good, "+7.8.", "+7.9.", 1), // another subscriber, same MAC
		strings.Replace(good, "+7.8.", "+6.8.", 1),
		other.Encode(Tag{7, 8}), // signed with another secret
		"bounces+7.8@bounce.herald.test",
		"bounces+7.8.!!!@bounce.herald.test",
		"bounces+0.8." + strings.Split(strings.Split(good, "@")[0], ".")[2] + "@bounce.herald.test",
	} {
		if _, ok, err := v.Decode(addr); ok || !errors.Is(err, ErrBadTag) {
			t.Errorf("Decode(%q) = %v, %v; want ErrBadTag", addr, ok, err)
		}
	}
	// Addresses that are not VERP forms of this bounce address are no tag
	// and no error.
	for _, addr := range []string{"bounces@bounce.herald.test", "ann@example.com",
		strings.Replace(good, "@bounce.herald.test", "@elsewhere.test", 1), "", "bouncesx+1.2.aaaa@bounce.herald.test"} {
		if _, ok, err := v.Decode(addr); ok || err != nil {
			t.Errorf("Decode(%q) = %v, %v; want not a tag", addr, ok, err)
		}
	}
}

// TestVERPRejectsEveryAlteredAddress: no change of one character of the
// MAC, and no other spelling of the numbers, verifies. (The 13th base32
// character carries a bit the 64-bit MAC does not use: decoding and
// comparing the bytes accepted the last character's neighbour, "a" for
// "b", so TestBounces' forgery, which flips that character, verified in
// one run out of 16 and its subscriber was suppressed.)
func TestVERPRejectsEveryAlteredAddress(t *testing.T) {
	v := testVERP(t)
	for _, tag := range []Tag{{1, 4}, {7, 8}, {12, 345}, {99, 1}} {
		good := v.Encode(tag)
		local, domain, _ := splitAddr(good)
		dot := strings.LastIndexByte(local, '.')
		for i := dot + 1; i < len(local); i++ {
			for _, c := range "abcdefghijklmnopqrstuvwxyz234567" {
				if byte(c) == local[i] {
					continue
				}
				addr := local[:i] + string(c) + local[i+1:] + "@" + domain
				if _, ok, err := v.Decode(addr); ok || !errors.Is(err, ErrBadTag) {
					t.Errorf("Decode(%q) (from %q) = %v, %v; want ErrBadTag", addr, good, ok, err)
				}
			}
		}
		m, s := strconv.FormatInt(tag.Mailing, 10), strconv.FormatInt(tag.Subscriber, 10)
		mac := local[dot+1:]
		for _, addr := range []string{
			"bounces+0" + m + "." + s + "." + mac + "@" + domain,
			"bounces+" + m + ".0" + s + "." + mac + "@" + domain,
			"bounces++" + m + "." + s + "." + mac + "@" + domain,
			"bounces+" + m + ".+" + s + "." + mac + "@" + domain,
			good[:len(local)] + "a@" + domain,
		} {
			if _, ok, err := v.Decode(addr); ok || !errors.Is(err, ErrBadTag) {
				t.Errorf("Decode(%q) = %v, %v; want ErrBadTag", addr, ok, err)
			}
		}
	}
}

func TestNewVERP(t *testing.T) {
	for _, addr := range []string{"", "nobody", "a+b@example.com", "@example.com"} {
		if _, err := NewVERP(addr, []byte(testSecret)); err == nil {
			t.Errorf("NewVERP(%q) accepted", addr)
		}
	}
	if _, err := NewVERP("bounces@example.com", nil); err == nil {
		t.Error("NewVERP without a secret accepted")
	}
}
