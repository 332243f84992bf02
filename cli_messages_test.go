package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"herald/feed"
)

// TestMissingPostNamedOnce: a POST that names no post is reported in one
// clear message that names it once, and the error still wraps
// feed.ErrNotFound.
func TestMissingPostNamedOnce(t *testing.T) {
	e := newEnv(t, "")
	for _, args := range [][]string{{"send", "-dry-run", "no-such-post"}, {"preview", "no-such-post"}, {"send", "no-such-post"}} {
		r := e.run(t, args...)
		if r.code != 1 {
			t.Errorf("herald %s: exit %d, want 1\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
		if n := strings.Count(r.stderr, "no-such-post"); n != 1 {
			t.Errorf("herald %s names the post %d times, want once:\n%s", strings.Join(args, " "), n, r.stderr)
		}
		if !strings.Contains(r.stderr, `herald: no post named "no-such-post" in the posts folder`) || strings.Contains(r.stderr, "feed:") {
			t.Errorf("herald %s: unclear message:\n%s", strings.Join(args, " "), r.stderr)
		}
	}

	m := NewMain()
	if err := m.ParseFlags(context.Background(), []string{"-config", e.config, "send", "-dry-run", "nope"}); err != nil {
		t.Fatal(err)
	}
	err := m.Run(context.Background())
	m.Close()
	if !errors.Is(err, feed.ErrNotFound) {
		t.Errorf("err = %v, want one wrapping feed.ErrNotFound", err)
	}
}

// TestCheckWarnsOnce: herald check prints each Liquid warning of a post
// once (not once as a problem and again as a log line from building the
// feeds).
func TestCheckWarnsOnce(t *testing.T) {
	e := newEnv(t, "")
	post := "---\ntitle: Liquid\ndate: 2020-01-01\n---\nHello {% frobnicate x %} there.\n\n# TLDR\n\nShort.\n"
	if err := os.WriteFile(e.path("posts/2020-01-01-liquid.md"), []byte(post), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.run(t, "check")
	if r.code != 0 {
		t.Fatalf("check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	all := r.stdout + r.stderr
	if n := strings.Count(all, "frobnicate"); n != 1 {
		t.Errorf("the Liquid warning is printed %d times, want once:\n%s", n, all)
	}
	if !strings.Contains(r.stderr, "posts/2020-01-01-liquid.md:5: unsupported Liquid tag {% frobnicate %} removed (warning)") {
		t.Errorf("the warning with its file and line is missing:\n%s", all)
	}
	if !strings.Contains(r.stdout, "1 warnings") {
		t.Errorf("the summary does not count the warning:\n%s", r.stdout)
	}
}

// TestStatusWithoutPostsFolder: herald status shows what it can (the
// database's side) when the posts folder is missing, and the error, and
// exits 1.
func TestStatusWithoutPostsFolder(t *testing.T) {
	e := newEnv(t, "")
	mustRun(t, e, "subscribers", "add", "ann@example.org")
	if err := os.RemoveAll(e.path("posts")); err != nil {
		t.Fatal(err)
	}
	r := e.run(t, "status")
	if r.code != 1 {
		t.Errorf("status: exit %d, want 1", r.code)
	}
	for _, want := range []string{"Now: ", "Last scan: never", "the posts folder cannot be read", "Subscribers: 1 confirmed", "Daemons: none running"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status does not show %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "herald: status: the posts folder cannot be read") || !strings.Contains(r.stderr, "no such file or directory") {
		t.Errorf("status does not say why:\n%s", r.stderr)
	}
}
