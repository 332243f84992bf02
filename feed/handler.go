package feed

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Handler serves the files of the current Output at "/"+File.Name (it also
// works behind http.StripPrefix). It answers GET and HEAD with a strong
// ETag, Last-Modified, Cache-Control and 304 Not Modified for matching
// If-None-Match / If-Modified-Since; clients that accept gzip get a gzip
// copy of the file (ETag suffixed "-gz"), compressed once per Swap, on the
// first request that wants it, and kept. Before the first Swap every request
// gets 503. Safe for concurrent use.
type Handler struct {
	cacheControl string
	cur          atomic.Pointer[servedSet]
}

type servedSet map[string]*served

type served struct {
	file   File
	gzOnce sync.Once
	gz     []byte // nil when gzip would not be smaller; set by gzOnce
	gzETag string // the ETag of the gzip variant
}

// minGzip is the size below which files are always sent uncompressed.
const minGzip = 512

// gzipped returns the gzip copy of the file and its ETag, compressing it on
// the first call; ok is false when compression does not make it smaller.
func (s *served) gzipped() (data []byte, etag string, ok bool) {
	s.gzOnce.Do(func() {
		if gz := gzipBytes(s.file.Data); len(gz) < len(s.file.Data) {
			s.gz = gz
			s.gzETag = strings.TrimSuffix(s.file.ETag, `"`) + `-gz"`
		}
	})
	return s.gz, s.gzETag, s.gz != nil
}

// NewHandler returns a Handler whose responses carry
// "Cache-Control: public, max-age=N" with N = maxAge in seconds.
func NewHandler(maxAge time.Duration) *Handler {
	if maxAge < 0 {
		maxAge = 0
	}
	return &Handler{cacheControl: "public, max-age=" + strconv.FormatInt(int64(maxAge/time.Second), 10)}
}

// Swap makes out the served Output. Requests already running finish with the
// previous one. A nil out is ignored.
func (h *Handler) Swap(out *Output) {
	if out == nil {
		return
	}
	set := make(servedSet, len(out.Files))
	for _, f := range out.Files {
		set[f.Name] = &served{file: f}
	}
	h.cur.Store(&set)
}

func gzipBytes(data []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(data) / 3)
	zw := gzip.NewWriter(&buf)
	zw.Write(data) // writes to a bytes.Buffer do not fail
	zw.Close()
	return buf.Bytes()
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	set := h.cur.Load()
	if set == nil {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "feeds not generated yet", http.StatusServiceUnavailable)
		return
	}
	s, ok := (*set)[strings.TrimPrefix(r.URL.Path, "/")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	data, etag := s.file.Data, s.file.ETag
	if len(data) >= minGzip {
		hdr.Set("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			if gz, gzETag, ok := s.gzipped(); ok {
				data, etag = gz, gzETag
				hdr.Set("Content-Encoding", "gzip")
			}
		}
	}
	hdr.Set("Content-Type", s.file.ContentType)
	hdr.Set("ETag", etag)
	hdr.Set("Cache-Control", h.cacheControl)
	// ServeContent handles If-None-Match (weak comparison, lists, "*"),
	// If-Modified-Since (ignored when If-None-Match is present), If-Match,
	// ranges, HEAD and Last-Modified (omitted for a zero time).
	http.ServeContent(w, r, "", s.file.Modified, bytes.NewReader(data))
}

// acceptsGzip reports whether an Accept-Encoding header value allows gzip:
// "gzip" or "x-gzip" or "*" with a non-zero q value, unless gzip is
// explicitly refused with q=0.
func acceptsGzip(header string) bool {
	star := false
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		switch coding {
		case "gzip", "x-gzip":
			return q > 0
		case "*":
			star = q > 0
		}
	}
	return star
}
