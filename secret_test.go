package main

import (
	"context"
	"encoding/hex"
	"net/http"
	"os"
	"testing"
	"time"

	"herald/mailer"
	"herald/schedule/store"
	"herald/schedule/store/sqlite"
)

// TestTokenSecretSources: for each source of the token secret
// (server.secret_env, server.secret_file, generated and kept in the
// database) an unsubscribe token forged with the wrong key is refused and
// one made with the right key works. With secret_env the right key is the
// variable's value: its name is in the configuration, readable by anyone.
func TestTokenSecretSources(t *testing.T) {
	const envName = "HERALD_TEST_TOKEN_SECRET_0123456789"
	const envValue = "the value of the variable, not its name"
	fileValue := "a secret kept in a file, 32 bytes+"
	tests := []struct {
		name   string
		server string
		setup  func(t *testing.T, e *testEnv)
		wrong  []byte
		right  func(t *testing.T, e *testEnv) []byte
	}{
		{
			name:   "env",
			server: `secret_env = "` + envName + `"`,
			setup:  func(t *testing.T, e *testEnv) { t.Setenv(envName, envValue) },
			wrong:  []byte(envName),
			right:  func(*testing.T, *testEnv) []byte { return []byte(envValue) },
		},
		{
			name:   "file",
			server: `secret_file = "secret.txt"`,
			setup: func(t *testing.T, e *testEnv) {
				if err := os.WriteFile(e.path("secret.txt"), []byte(fileValue+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			wrong: []byte("secret.txt is the name, not the key"),
			right: func(*testing.T, *testEnv) []byte { return []byte(fileValue) },
		},
		{
			name:  "generated",
			wrong: []byte("any key but the generated one, 32"),
			right: func(t *testing.T, e *testEnv) []byte {
				db, err := sqlite.Open(context.Background(), e.path("var/herald.db"))
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				v, err := db.Meta(context.Background(), mailer.MetaKeySecret)
				if err != nil {
					t.Fatal(err)
				}
				b, err := hex.DecodeString(v)
				if err != nil {
					t.Fatal(err)
				}
				return b
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, daemonConfig+tt.server+"\n")
			if tt.setup != nil {
				tt.setup(t, e)
			}
			if r := e.run(t, "subscribers", "add", "victim@example.org"); r.code != 0 {
				t.Fatalf("subscribers add: %+v", r)
			}
			d := e.start(t)
			post := func(key []byte) int {
				tok := mailer.Token(key, mailer.PurposeUnsubscribe, 1, time.Time{})
				resp, err := http.Post("http://"+d.addr+"/unsubscribe?token="+tok, "application/x-www-form-urlencoded", nil)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if code := post(tt.wrong); code != http.StatusBadRequest {
				t.Errorf("token forged with the wrong key: HTTP %d, want 400", code)
			}
			if st := subscriberStatus(t, e, "victim@example.org"); st != store.StatusConfirmed {
				t.Fatalf("after a forged token the subscriber is %s", st)
			}
			if code := post(tt.right(t, e)); code != http.StatusOK {
				t.Errorf("token made with the right key: HTTP %d, want 200", code)
			}
			d.stop(t)
			if st := subscriberStatus(t, e, "victim@example.org"); st != store.StatusUnsubscribed {
				t.Errorf("after a good token the subscriber is %s, want unsubscribed", st)
			}
		})
	}
}

// subscriberStatus reads an address's status from the environment's database.
func subscriberStatus(t *testing.T, e *testEnv, email string) store.SubscriberStatus {
	t.Helper()
	db, err := sqlite.Open(context.Background(), e.path("var/herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := db.Subscriber(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return s.Status
}
