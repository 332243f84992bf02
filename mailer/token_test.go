package mailer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"herald/schedule/store/sqlite"
)

func TestTokenRoundTrip(t *testing.T) {
	secret := []byte("a secret of at least sixteen bytes")
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	forever := Token(secret, PurposeUnsubscribe, 42, time.Time{})
	short := Token(secret, PurposeConfirm, 7, now.Add(time.Hour))

	tests := []struct {
		name    string
		secret  []byte
		purpose string
		token   string
		now     time.Time
		wantID  int64
		wantErr error
	}{
		{"unsubscribe never expires", secret, PurposeUnsubscribe, forever, now.AddDate(30, 0, 0), 42, nil},
		{"confirm before expiry", secret, PurposeConfirm, short, now.Add(59 * time.Minute), 7, nil},
		{"confirm at expiry", secret, PurposeConfirm, short, now.Add(time.Hour), 7, nil},
		{"confirm after expiry", secret, PurposeConfirm, short, now.Add(time.Hour + time.Second), 0, ErrTokenExpired},
		{"other purpose", secret, PurposeConfirm, forever, now, 0, ErrBadToken},
		{"other secret", []byte("another secret, sixteen+ bytes"), PurposeUnsubscribe, forever, now, 0, ErrBadToken},
		{"tampered", secret, PurposeUnsubscribe, flip(forever, 3), now, 0, ErrBadToken},
		{"tampered MAC", secret, PurposeUnsubscribe, flip(forever, len(forever)-2), now, 0, ErrBadToken},
		{"truncated", secret, PurposeUnsubscribe, forever[:20], now, 0, ErrBadToken},
		{"not base64", secret, PurposeUnsubscribe, "!!!" + forever[3:], now, 0, ErrBadToken},
		{"empty", secret, PurposeUnsubscribe, "", now, 0, ErrBadToken},
		{"subscriber 0", secret, PurposeUnsubscribe, Token(secret, PurposeUnsubscribe, 0, time.Time{}), now, 0, ErrBadToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := ParseToken(tt.secret, tt.purpose, tt.token, tt.now)
			if id != tt.wantID || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("ParseToken = %d, %v; want %d, %v", id, err, tt.wantID, tt.wantErr)
			}
		})
	}
	if strings.ContainsAny(forever, "+/=") || len(forever) != 43 {
		t.Errorf("token %q: want 43 base64url characters without padding", forever)
	}
	if a, b := Token(secret, PurposeUnsubscribe, 1, time.Time{}), Token(secret, PurposeUnsubscribe, 2, time.Time{}); a == b {
		t.Errorf("tokens of two subscribers are equal")
	}
}

// TestTokenEveryChangeRejected: no change of one character of a token
// verifies; the last one included, whose two unused bits a lenient decoder
// ignores.
func TestTokenEveryChangeRejected(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, id := range []int64{1, 42, 1 << 40} {
		tok := Token(secret, PurposeUnsubscribe, id, time.Time{})
		for i := range len(tok) {
			for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
				if byte(c) == tok[i] {
					continue
				}
				changed := tok[:i] + string(c) + tok[i+1:]
				if got, err := ParseToken(secret, PurposeUnsubscribe, changed, now); !errors.Is(err, ErrBadToken) {
					t.Fatalf("ParseToken(%q) (from %q) = %d, %v; want ErrBadToken", changed, tok, got, err)
				}
			}
		}
	}
}

// flip changes the character at i to another valid base64url character.
func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestLoadSecret(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	gen, err := LoadSecret(ctx, db, "", "")
	if err != nil || len(gen) != 32 {
		t.Fatalf("generated secret = %d bytes, %v; want 32", len(gen), err)
	}
	again, err := LoadSecret(ctx, db, "", "")
	if err != nil || string(again) != string(gen) {
		t.Errorf("second LoadSecret gave another secret (%v)", err)
	}

	// The variable's value is the secret, never its name (a name long
	// enough to pass the length check used to become the key).
	t.Setenv("HERALD_TEST_SECRET_VARIABLE", "  from-the-environment-123  ")
	env, err := LoadSecret(ctx, db, "HERALD_TEST_SECRET_VARIABLE", "")
	if err != nil || string(env) != "from-the-environment-123" {
		t.Errorf("env secret = %q, %v", env, err)
	}
	t.Setenv("HERALD_SECRET", "value-of-herald-secret")
	if env, err := LoadSecret(ctx, db, "HERALD_SECRET", ""); err != nil || string(env) != "value-of-herald-secret" {
		t.Errorf("HERALD_SECRET (a 13-byte name) = %q, %v", env, err)
	}
	t.Setenv("HERALD_SHORT_SECRET", "tiny")
	t.Setenv("HERALD_EMPTY_SECRET", "  ")
	file := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(file, []byte("from-a-file-0123456789\n"), 0o600)
	got, err := LoadSecret(ctx, db, "", file)
	if err != nil || string(got) != "from-a-file-0123456789" {
		t.Errorf("file secret = %q, %v", got, err)
	}

	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, []byte("tiny"), 0o600)
	for _, c := range []struct{ env, file string }{{"HERALD_SHORT_SECRET", ""}, {"HERALD_EMPTY_SECRET", ""}, {"HERALD_UNSET_SECRET_XYZ", ""}, {"", short}, {"", filepath.Join(t.TempDir(), "missing")}} {
		if _, err := LoadSecret(ctx, db, c.env, c.file); err == nil {
			t.Errorf("LoadSecret(%q, %q): no error", c.env, c.file)
		}
	}
	if _, err := LoadSecret(ctx, nil, "", ""); err == nil {
		t.Errorf("LoadSecret without a store: no error")
	}
}
