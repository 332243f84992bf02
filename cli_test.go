package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"
)

// TestCommandFlags: each subcommand has its own flags and -h; a flag of
// another subcommand is an error, not silently ignored; a bad flag prints
// the usage once; help works for every command.
func TestCommandFlags(t *testing.T) {
	e := newEnv(t, "")

	r := e.run(t, "subscribers", "add", "-status", "unsubscribed", "zz@example.org")
	if r.code != 2 || !strings.Contains(r.stderr, "flag provided but not defined: -status") {
		t.Errorf("subscribers add -status: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "usage: herald subscribers add") || strings.Count(r.stderr, "usage:") != 1 {
		t.Errorf("subscribers add -status: want the subcommand's usage once:\n%s", r.stderr)
	}
	if r := mustRun(t, e, "subscribers", "list"); strings.Contains(r.stdout, "zz@example.org") {
		t.Errorf("a subscriber was added despite the bad flag:\n%s", r.stdout)
	}

	r = e.run(t, "-bogus", "status")
	if r.code != 2 || strings.Count(r.stderr, "Usage: herald") != 1 || r.stdout != "" {
		t.Errorf("bad global flag: exit %d, usage %d times in stderr, stdout %q\n%s",
			r.code, strings.Count(r.stderr, "Usage: herald"), r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "-log-level") {
		t.Errorf("the usage does not mention -log-level:\n%s", r.stderr)
	}

	for _, tc := range []struct {
		args        []string
		want, avoid string
	}{
		{[]string{"help"}, "subscribers forget", ""},
		{[]string{"-h"}, "-log-level", ""},
		{[]string{"help", "send"}, "-dry-run", ""},
		{[]string{"send", "-h"}, "-retry-failed", ""},
		{[]string{"help", "subscribers", "add"}, "-resubscribe", "-status"},
		{[]string{"subscribers", "list", "-h"}, "-status", "-pending"},
		{[]string{"help", "subscribers"}, "subscribers import", ""},
		{[]string{"build", "-h"}, "usage: herald build", ""},
		{[]string{"help", "status"}, "usage: herald status", ""},
		{[]string{"help", "bounces", "list"}, "-since", ""},
		{[]string{"init", "-h"}, "-jekyll", ""},
	} {
		r := e.run(t, tc.args...)
		if r.code != 0 || !strings.Contains(r.stdout, tc.want) || tc.avoid != "" && strings.Contains(r.stdout, tc.avoid) || r.stderr != "" {
			t.Errorf("herald %s: exit %d, want %q without %q in stdout:\n%s\nstderr: %s", strings.Join(tc.args, " "), r.code, tc.want, tc.avoid, r.stdout, r.stderr)
		}
	}
	if r := e.run(t, "help", "frobnicate"); r.code != 2 || !strings.Contains(r.stderr, "unknown command") {
		t.Errorf("help frobnicate: %+v", r)
	}
	if r := e.run(t, "status", "extra"); r.code != 2 || !strings.Contains(r.stderr, "usage: herald status") {
		t.Errorf("status extra: %+v", r)
	}
}

// TestCheckWarnsDKIMAlignment: herald check warns when mail.dkim.domain is
// not aligned with the From domain (DMARC would fail), and not when it is.
func TestCheckWarnsDKIMAlignment(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		domain string
		warn   bool
	}{
		{"other.example.net", true},
		{"blog.example.com", false},
		{"example.com", false}, // a parent: relaxed alignment
	} {
		t.Run(tc.domain, func(t *testing.T) {
			e := newEnv(t, `[mail]
from = "Blog <news@blog.example.com>"
[mail.dkim]
domain = "`+tc.domain+`"
selector = "herald"
key_file = "dkim.pem"
`)
			if err := os.WriteFile(e.path("dkim.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
				t.Fatal(err)
			}
			r := e.run(t, "check")
			if got := strings.Contains(r.stdout, "not aligned"); got != tc.warn || r.code != 0 {
				t.Errorf("check: exit %d, warned %v, want %v:\n%s%s", r.code, got, tc.warn, r.stdout, r.stderr)
			}
		})
	}
}

// TestStatusPrintsNoControlCharacters: a title holding terminal escapes is
// shown without them.
func TestStatusPrintsNoControlCharacters(t *testing.T) {
	e := newEnv(t, "")
	post := "---\ntitle: \"Evil \\e[2J\\e]0;owned\\a title\"\ndate: 2099-01-01 10:00:00\n---\nBody.\n"
	if err := os.WriteFile(e.path("posts/2099-01-01-evil.md"), []byte(post), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.run(t, "status")
	if !strings.Contains(r.stdout, "Evil ?[2J?]0;owned? title") {
		t.Errorf("status does not show the title with its controls replaced:\n%s", r.stdout)
	}
	if strings.ContainsAny(r.stdout, "\x1b\x07") {
		t.Errorf("status printed control characters: %q", r.stdout)
	}
}
