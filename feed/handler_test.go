package feed

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHandlerBeforeSwap(t *testing.T) {
	h := NewHandler(time.Minute)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/feed.xml", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503", rec.Code)
	}
}

func TestHandler(t *testing.T) {
	out := build(t, testSite(t), testFeeds(), testEntries(t))
	rss, _ := out.File("feed.xml")
	h := NewHandler(5 * time.Minute)
	h.Swap(out)
	gzETag := strings.TrimSuffix(rss.ETag, `"`) + `-gz"`
	lastMod := rss.Modified.UTC().Format(http.TimeFormat)

	for _, tc := range []struct {
		name       string
		method     string
		path       string
		header     map[string]string
		wantStatus int
		wantBody   []byte // nil: not checked; checked after gunzip when gzip
		wantGzip   bool
		wantHeader map[string]string
	}{
		{
			name: "get", method: "GET", path: "/feed.xml", wantStatus: 200, wantBody: rss.Data,
			wantHeader: map[string]string{
				"Content-Type": RSSType, "ETag": rss.ETag, "Last-Modified": lastMod,
				"Cache-Control": "public, max-age=300", "Vary": "Accept-Encoding",
				"Content-Length": strconv.Itoa(len(rss.Data)),
			},
		},
		{
			name: "json content type", method: "GET", path: "/feed.json", wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": JSONType},
		},
		{
			name: "atom content type", method: "GET", path: "/atom.xml", wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": AtomType},
		},
		{
			name: "gzip", method: "GET", path: "/feed.xml", header: map[string]string{"Accept-Encoding": "br;q=1.0, gzip;q=0.8"},
			wantStatus: 200, wantBody: rss.Data, wantGzip: true,
			wantHeader: map[string]string{"Content-Encoding": "gzip", "ETag": gzETag, "Vary": "Accept-Encoding"},
		},
		{
			name: "gzip refused", method: "GET", path: "/feed.xml", header: map[string]string{"Accept-Encoding": "gzip;q=0, *"},
			wantStatus: 200, wantBody: rss.Data, wantHeader: map[string]string{"Content-Encoding": "", "ETag": rss.ETag},
		},
		{
			name: "head", method: "HEAD", path: "/feed.xml", wantStatus: 200, wantBody: []byte{},
			wantHeader: map[string]string{"ETag": rss.ETag, "Content-Length": strconv.Itoa(len(rss.Data))},
		},
		{
			name: "304 etag", method: "GET", path: "/feed.xml", header: map[string]string{"If-None-Match": rss.ETag},
			wantStatus: 304, wantBody: []byte{}, wantHeader: map[string]string{"ETag": rss.ETag, "Cache-Control": "public, max-age=300"},
		},
		{
			name: "304 etag list weak", method: "GET", path: "/feed.xml", header: map[string]string{"If-None-Match": `"other", W/` + rss.ETag},
			wantStatus: 304, wantBody: []byte{},
		},
		{
			name: "304 star", method: "GET", path: "/feed.xml", header: map[string]string{"If-None-Match": "*"},
			wantStatus: 304, wantBody: []byte{},
		},
		{
			name: "304 gzip etag", method: "GET", path: "/feed.xml",
			header:     map[string]string{"If-None-Match": gzETag, "Accept-Encoding": "gzip"},
			wantStatus: 304, wantBody: []byte{}, wantHeader: map[string]string{"ETag": gzETag, "Content-Encoding": ""},
		},
		{
			name: "identity etag does not match gzip variant", method: "GET", path: "/feed.xml",
			header:     map[string]string{"If-None-Match": rss.ETag, "Accept-Encoding": "gzip"},
			wantStatus: 200, wantGzip: true, wantBody: rss.Data,
		},
		{
			name: "stale etag", method: "GET", path: "/feed.xml", header: map[string]string{"If-None-Match": `"nope"`},
			wantStatus: 200, wantBody: rss.Data,
		},
		{
			name: "304 if-modified-since", method: "GET", path: "/feed.xml", header: map[string]string{"If-Modified-Since": lastMod},
			wantStatus: 304, wantBody: []byte{},
		},
		{
			name: "200 if-modified-since older", method: "GET", path: "/feed.xml",
			header:     map[string]string{"If-Modified-Since": rss.Modified.Add(-time.Hour).UTC().Format(http.TimeFormat)},
			wantStatus: 200, wantBody: rss.Data,
		},
		{
			name: "if-none-match wins over if-modified-since", method: "GET", path: "/feed.xml",
			header:     map[string]string{"If-None-Match": `"nope"`, "If-Modified-Since": lastMod},
			wantStatus: 200, wantBody: rss.Data,
		},
		{
			name: "404", method: "GET", path: "/nope.xml", wantStatus: 404,
		},
		{
			name: "404 root", method: "GET", path: "/", wantStatus: 404,
		},
		{
			name: "405", method: "POST", path: "/feed.xml", wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, HEAD"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %q", rec.Code, tc.wantStatus, rec.Body.String())
			}
			for k, want := range tc.wantHeader {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if tc.wantBody == nil {
				return
			}
			body := rec.Body.Bytes()
			if tc.wantGzip {
				if rec.Header().Get("Content-Encoding") != "gzip" {
					t.Fatalf("not gzipped")
				}
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(body, tc.wantBody) {
				t.Errorf("body: got %d bytes, want %d", len(body), len(tc.wantBody))
			}
		})
	}
}

// TestHandlerServer runs the handler behind a real HTTP server under a
// prefix, and checks that Swap changes what is served.
func TestHandlerServer(t *testing.T) {
	cfg := testFeeds()
	cfg.Tags = true
	out := build(t, testSite(t), cfg, testEntries(t))
	h := NewHandler(time.Minute)
	h.Swap(out)
	mux := http.NewServeMux()
	mux.Handle("/feeds/", http.StripPrefix("/feeds", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(path, etag string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := srv.Client().Do(req) // the transport asks for gzip and decodes it
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := get("/feeds/tags/go/atom.xml", "")
	body, _ := io.ReadAll(resp.Body)
	want, _ := out.File("tags/go/atom.xml")
	if resp.StatusCode != 200 || !bytes.Equal(body, want.Data) || !resp.Uncompressed {
		t.Fatalf("status %d, %d bytes (want %d), uncompressed by transport %v", resp.StatusCode, len(body), len(want.Data), resp.Uncompressed)
	}
	etag := resp.Header.Get("ETag")
	if resp := get("/feeds/tags/go/atom.xml", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: status %d, want 304", resp.StatusCode)
	}

	// New posts: the old ETag no longer matches.
	entries := testEntries(t)[2:]
	h.Swap(build(t, testSite(t), cfg, entries))
	if resp := get("/feeds/tags/go/atom.xml", etag); resp.StatusCode != http.StatusNotFound {
		t.Errorf("removed tag feed: status %d, want 404", resp.StatusCode)
	}
	resp = get("/feeds/feed.json", "")
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || strings.Contains(string(body), "Writing Feeds in Go") {
		t.Errorf("after Swap: status %d, body still has the removed post", resp.StatusCode)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"x-gzip", true},
		{"deflate, gzip;q=0.5", true},
		{"gzip;q=0", false},
		{"gzip; q=0.0", false},
		{"*", true},
		{"*;q=0", false},
		{"br", false},
		{"identity", false},
		{"gzip;q=0, *", false},
	} {
		if got := acceptsGzip(tc.in); got != tc.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestHandlerConcurrentSwap serves gzip and plain requests while swapping
// outputs; run with -race.
func TestHandlerConcurrentSwap(t *testing.T) {
	site := testSite(t)
	outs := []*Output{build(t, site, testFeeds(), testEntries(t)), build(t, site, testFeeds(), testEntries(t)[1:])}
	h := NewHandler(time.Minute)
	h.Swap(outs[0])
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			h.Swap(outs[i%2])
		}
	}()
	for i := range 200 {
		req := httptest.NewRequest(http.MethodGet, "/atom.xml", nil)
		if i%2 == 0 {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
	}
	<-done
}
