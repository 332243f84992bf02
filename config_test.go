package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// sampleConfig is the copy of the sample config.toml the tests read: the
// working tree's config.toml is the user's to edit (README, "Try it"), so
// tests never read it; .ci/run checks that the two are the same file.
const sampleConfig = "testdata/config.toml"

// TestSampleConfigShowsDefaults: every key of the documented config.toml
// holds the embedded default (the site section aside, and server.public_url,
// which points at the local listener so that the links in the mails of
// "Try it" work), so the sample is the reference of the defaults.
func TestSampleConfigShowsDefaults(t *testing.T) {
	data, err := os.ReadFile(sampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	got := DefaultConfig()
	if err := decodeConfig("config.toml", data, &got); err != nil {
		t.Fatalf("%s: %v (after changing config.toml, copy it to %s)", sampleConfig, err, sampleConfig)
	}
	want := DefaultConfig()
	if lis := "http://" + got.Server.Listen; got.Server.PublicURL != lis {
		t.Errorf("server.public_url = %q, want the local listener %q", got.Server.PublicURL, lis)
	}
	got.Server.PublicURL = want.Server.PublicURL
	for name, pair := range map[string][2]any{
		"posts":    {got.Posts, want.Posts},
		"feeds":    {got.Feeds, want.Feeds},
		"schedule": {got.Schedule, want.Schedule},
		"mail":     {got.Mail, want.Mail},
		"server":   {got.Server, want.Server},
		"bounce":   {got.Bounce, want.Bounce},
		"state":    {got.State, want.State},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("[%s] in config.toml differs from the default:\n got %+v\nwant %+v", name, pair[0], pair[1])
		}
	}
	// And it lists every key: decoding it into a map and counting leaves
	// against the struct's toml tags.
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	var missing []string
	walkKeys(reflect.TypeOf(Config{}), "", func(key string) {
		if !hasKey(raw, strings.Split(key, ".")) {
			missing = append(missing, key)
		}
	})
	if len(missing) > 0 {
		t.Errorf("config.toml does not document: %s", strings.Join(missing, ", "))
	}
}

func walkKeys(typ reflect.Type, prefix string, fn func(string)) {
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
			walkKeys(f.Type, prefix, fn) // flattened, as the decoder does
			continue
		}
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		key := prefix + tag
		if f.Type.Kind() == reflect.Struct && f.Type.Name() != "Duration" {
			walkKeys(f.Type, key+".", fn)
			continue
		}
		fn(key)
	}
}

func hasKey(m map[string]any, path []string) bool {
	v, ok := m[path[0]]
	if !ok {
		return false
	}
	if len(path) == 1 {
		return true
	}
	sub, ok := v.(map[string]any)
	return ok && hasKey(sub, path[1:])
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name, toml, want string
	}{
		{"unknown key with line", "[site]\ntitle = \"x\"\nurl = \"https://e.com\"\ntitel = \"y\"\n", "config.toml:4:1: unknown key site.titel"},
		{"unknown section", "[site]\ntitle = \"x\"\nurl = \"https://e.com\"\n[mial]\nfrom = \"a\"\n", "unknown key mial"},
		{"wrong type names key", "[site]\ntitle = \"x\"\nurl = \"https://e.com\"\n[feeds]\nlimit = \"ten\"\n", `config.toml:5:9: feeds.limit: want a number, got "ten"`},
		{"wrong type bool", "[site]\ntitle = \"x\"\nurl = \"https://e.com\"\n[feeds]\nfull_content = 3\n", "feeds.full_content: want true or false, got 3"},
		{"relative url", "[site]\ntitle = \"x\"\nurl = \"example.com\"\n", "site.url"},
		{"missing title", "[site]\nurl = \"https://e.com\"\n", "site.title"},
		{"bad zone", "[site]\ntitle = \"x\"\nurl = \"https://e.com\"\ntimezone = \"Mars/Olympus\"\n", "site.timezone"},
		{"bad duration", "[site]\ntitle = \"x\"\nurl = \"https://e.com\"\n[mail]\nretry_for = \"3 days\"\n", "mail.retry_for"},
		{"cron never fires", "[site]\ntitle = \"x\"\nurl = \"https://e.com\"\n[schedule]\ncron = \"0 0 30 2 *\"\n", "schedule.cron"},
		{"auth without tls", "[site]\ntitle = \"x\"\nurl = \"https://e.com\"\n[mail]\ntransport = \"smtp\"\nfrom = \"a@e.com\"\n[mail.smtp]\nhost = \"h\"\ntls = \"none\"\nusername = \"u\"\n", "mail.smtp"},
		{"bad listen", "[site]\ntitle = \"x\"\nurl = \"https://e.com\"\n[server]\nlisten = \"8080\"\n", "server.listen"},
		{"bad pending ttl", "[site]\ntitle = \"x\"\nurl = \"https://e.com\"\n[server]\npending_ttl = \"0s\"\n", "server.pending_ttl"},
		{"bad rate limit", "[site]\ntitle = \"x\"\nurl = \"https://e.com\"\n[server.rate_limit]\nper_ip = 0\n", "server.rate_limit.per_ip"},
		{"unknown server key", "[site]\ntitle = \"x\"\nurl = \"https://e.com\"\n[server]\nlistn = \"x\"\n", "config.toml:5:1: unknown key server.listn"},
		{"syntax error", "[site\ntitle = \"x\"\n", "config.toml:1:"},
		{"postgres password in the URL", "[site]\ntitle = \"x\"\nurl = \"https://e.com\"\n[state]\ndatabase = \"postgres://herald:hunter2@db/herald\"\n", "state.database: must not contain a password"},
		{"postgres password parameter", "[site]\ntitle = \"x\"\nurl = \"https://e.com\"\n[state]\ndatabase = \"postgresql://herald@db/herald?password=hunter2\"\n", "state.database: must not contain a password"},
		{"password for sqlite", "[site]\ntitle = \"x\"\nurl = \"https://e.com\"\n[state]\npassword_env = \"PW\"\n", "state.password_env: only for a PostgreSQL"},
		{"missing password file", "[site]\ntitle = \"x\"\nurl = \"https://e.com\"\n[state]\ndatabase = \"postgres://h@db/h\"\npassword_file = \"nope\"\n", "state.password_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.toml")
			if err := os.WriteFile(path, []byte(tt.toml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(path)
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a configError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
			// Messages name config keys, never Go types or fields.
			if strings.Contains(err.Error(), "struct field") || strings.Contains(err.Error(), "feed.FeedsConfig") {
				t.Errorf("err = %q names Go internals", err)
			}
		})
	}
}

func TestLoadConfigResolvesPaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte("[site]\ntitle = \"x\"\nurl = \"https://e.com/\"\n[state]\ndatabase = \"/abs/h.db\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	pg := filepath.Join(dir, "pg.toml")
	if err := os.WriteFile(pg, []byte("[site]\ntitle = \"x\"\nurl = \"https://e.com/\"\n[state]\ndatabase = \"postgres://herald@db.example.org/herald?sslmode=verify-full\"\npassword_file = \"pw\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pgCfg, err := LoadConfig(pg)
	if err != nil {
		t.Fatal(err)
	}
	if pw, err := pgCfg.State.Password(); err != nil || pw != "s3cret" {
		t.Errorf("state password = %q, %v; want the file's first line", pw, err)
	}
	for _, c := range []struct{ got, want string }{
		{pgCfg.State.Database, "postgres://herald@db.example.org/herald?sslmode=verify-full"}, // a URL is not a path
		{pgCfg.State.PasswordFile, filepath.Join(dir, "pw")},
		{cfg.Posts.Dir, filepath.Join(dir, "posts")},
		{cfg.Feeds.Dir, filepath.Join(dir, "public")},
		{cfg.Mail.Maildir, filepath.Join(dir, "var/mail")},
		{cfg.State.Database, "/abs/h.db"},
		{cfg.Site.URL, "https://e.com"},
		{cfg.Feeds.URL, "https://e.com"},
		{cfg.Server.PublicURL, "https://e.com/herald"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestServerSectionOwners: every key of [server] keeps its place in the
// file and lands in the package that uses it: listen in schedule/server's
// Config, the subscription pages' keys in mailer.WebConfig.
func TestServerSectionOwners(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	data := `[site]
title = "x"
url = "https://e.com"
[server]
listen = "127.0.0.1:9999"
public_url = "https://e.com/subs/"
secret_env = "MY_SECRET"
secret_file = "/etc/herald/secret"
pending_ttl = "24h"
trust_proxy = true
[server.rate_limit]
per_ip = 7
per_address = 2
pending_per_hour = 50
max_body_bytes = 4096
`
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	srv, web := cfg.Server.Config, cfg.Server.WebConfig
	if srv.Listen != "127.0.0.1:9999" {
		t.Errorf("server.listen = %q", srv.Listen)
	}
	if web.PublicURL != "https://e.com/subs" || web.SecretEnv != "MY_SECRET" || web.SecretFile != "/etc/herald/secret" ||
		web.PendingTTL.Duration != 24*time.Hour || !web.TrustProxy {
		t.Errorf("subscription keys = %+v", web)
	}
	if rl := web.RateLimit; rl.PerIP != 7 || rl.PerAddress != 2 || rl.PendingPerHour != 50 || rl.MaxBodyBytes != 4096 {
		t.Errorf("server.rate_limit = %+v", rl)
	}
}

func TestExitCodes(t *testing.T) {
	var stderr bytes.Buffer
	m := NewMain()
	m.Stderr = &stderr
	if code := m.Main(t.Context(), []string{"-config", filepath.Join(t.TempDir(), "none.toml"), "build"}); code != 2 {
		t.Errorf("missing config: exit %d, want 2 (%s)", code, stderr.String())
	}
	if code := NewMain().Main(t.Context(), nil); code != 2 {
		t.Errorf("no command: exit %d, want 2", code)
	}
}
