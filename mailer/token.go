package mailer

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Token purposes.
const (
	PurposeUnsubscribe = "unsubscribe"
	PurposeConfirm     = "confirm"
)

// Token errors. ParseToken returns one of them (wrapped); test with errors.Is.
var (
	ErrBadToken     = errors.New("mailer: invalid token")
	ErrTokenExpired = errors.New("mailer: token expired")
)

// tokenMACLen is the length of the truncated HMAC-SHA256 in a token
// (128 bits).
const tokenMACLen = 16

// tokenLen is the decoded length of a token: id, expiry, MAC.
const tokenLen = 8 + 8 + tokenMACLen

// Token returns a signed token for subscriberID and purpose
// (PurposeUnsubscribe, PurposeConfirm): base64url (no padding) of the id, the
// expiry (Unix seconds; 0 = never) and a truncated HMAC-SHA256 over purpose,
// id and expiry. A zero expires makes a token that never expires: the
// unsubscribe links in sent mail must keep working for as long as the mail
// exists. Tokens carry no secret data; the id is readable by anyone.
func Token(secret []byte, purpose string, subscriberID int64, expires time.Time) string {
	var exp int64
	if !expires.IsZero() {
		exp = expires.Unix()
	}
	b := make([]byte, tokenLen)
	binary.BigEndian.PutUint64(b[0:8], uint64(subscriberID))
	binary.BigEndian.PutUint64(b[8:16], uint64(exp))
	copy(b[16:], tokenMAC(secret, purpose, b[:16]))
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseToken checks a token made by Token for purpose at now and returns its
// subscriber id. It returns ErrBadToken for anything malformed, signed with
// another secret or for another purpose, and ErrTokenExpired for a valid
// token past its expiry. The MAC is compared in constant time.
func ParseToken(secret []byte, purpose, token string, now time.Time) (int64, error) {
	// Strict: the 43rd character's two unused bits must be zero, so that
	// a token has one spelling and no changed token verifies.
	b, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimSpace(token))
	if err != nil || len(b) != tokenLen {
		return 0, fmt.Errorf("%w: malformed", ErrBadToken)
	}
	if !hmac.Equal(b[16:], tokenMAC(secret, purpose, b[:16])) {
		return 0, fmt.Errorf("%w: bad signature", ErrBadToken)
	}
	id := int64(binary.BigEndian.Uint64(b[0:8]))
	exp := int64(binary.BigEndian.Uint64(b[8:16]))
	if id <= 0 {
		return 0, fmt.Errorf("%w: no subscriber", ErrBadToken)
	}
	if exp != 0 && now.Unix() > exp {
		return 0, fmt.Errorf("%w at %s", ErrTokenExpired, time.Unix(exp, 0).UTC().Format(time.RFC3339))
	}
	return id, nil
}

// tokenMAC is the truncated HMAC-SHA256 of purpose, a NUL and payload.
func tokenMAC(secret []byte, purpose string, payload []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write(payload)
	return h.Sum(nil)[:tokenMACLen]
}

// MetaKeySecret is the meta key under which a generated secret is kept.
const MetaKeySecret = "token_secret"

// minSecretLen is the shortest secret accepted from the environment or a file.
const minSecretLen = 16

// SecretStore keeps a generated secret: state.DB.InitMeta stores value under
// key unless one is there, and returns the stored value.
type SecretStore interface {
	InitMeta(ctx context.Context, key, value string) (string, error)
}

// LoadSecret returns the key that signs tokens and Message-IDs. In order:
// the value of the environment variable named envName (server.secret_env,
// e.g. "HERALD_SECRET": its name is never the key), the contents of file
// (server.secret_file), both with surrounding space trimmed and at least 16
// bytes; else a secret of 32 random bytes generated on first use and kept in
// the database (meta key "token_secret"), so that every process using the
// same database (the daemon, `herald send`) signs alike, and the links in
// mail already sent stay valid across restarts. A named variable that is
// unset or empty is an error, not a silent fall back to another source. The
// secret is never logged.
func LoadSecret(ctx context.Context, store SecretStore, envName, file string) ([]byte, error) {
	if envName = strings.TrimSpace(envName); envName != "" {
		v, ok := os.LookupEnv(envName)
		if v = strings.TrimSpace(v); !ok || v == "" {
			return nil, fmt.Errorf("mailer: environment variable %s (server.secret_env) is not set", envName)
		}
		if len(v) < minSecretLen {
			return nil, fmt.Errorf("mailer: environment variable %s (server.secret_env) holds %d bytes, want at least %d", envName, len(v), minSecretLen)
		}
		return []byte(v), nil
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("mailer: secret file: %w", err)
		}
		s := strings.TrimSpace(string(b))
		if len(s) < minSecretLen {
			return nil, fmt.Errorf("mailer: secret file %s holds %d bytes, want at least %d", file, len(s), minSecretLen)
		}
		return []byte(s), nil
	}
	if store == nil {
		return nil, errors.New("mailer: no secret: set one, or give a database to keep a generated one")
	}
	var fresh [32]byte
	if _, err := rand.Read(fresh[:]); err != nil {
		return nil, fmt.Errorf("mailer: generating secret: %w", err)
	}
	v, err := store.InitMeta(ctx, MetaKeySecret, hex.EncodeToString(fresh[:]))
	if err != nil {
		return nil, fmt.Errorf("mailer: secret: %w", err)
	}
	b, err := hex.DecodeString(v)
	if err != nil || len(b) < minSecretLen {
		return nil, fmt.Errorf("mailer: secret in database meta %q is damaged", MetaKeySecret)
	}
	return b, nil
}

// MetaKeyInstallID is the meta key of the database's install id.
const MetaKeyInstallID = "install_id"

// LoadInstallID returns the id of this database, 16 hex digits generated
// on first use and kept in the database (meta key "install_id"). Message-IDs
// carry it: a new database (a reset, a second blog) never repeats the
// Message-IDs of another, even with the same secret.
func LoadInstallID(ctx context.Context, store SecretStore) (string, error) {
	var fresh [8]byte
	if _, err := rand.Read(fresh[:]); err != nil {
		return "", fmt.Errorf("mailer: generating install id: %w", err)
	}
	v, err := store.InitMeta(ctx, MetaKeyInstallID, hex.EncodeToString(fresh[:]))
	if err != nil {
		return "", fmt.Errorf("mailer: install id: %w", err)
	}
	if b, err := hex.DecodeString(v); err != nil || len(b) != len(fresh) {
		return "", fmt.Errorf("mailer: install id in database meta %q is damaged: %q", MetaKeyInstallID, v)
	}
	return v, nil
}
