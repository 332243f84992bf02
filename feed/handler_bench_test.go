package feed

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkHandlerConditionalGET measures the feed handler answering
// If-None-Match revalidations (what feed readers send every few minutes):
// in-process, and over loopback HTTP with keep-alive clients.
func BenchmarkHandlerConditionalGET(b *testing.B) {
	out := build(b, testSite(b), testFeeds(), testEntries(b))
	rss, _ := out.File("feed.xml")
	h := NewHandler(5 * time.Minute)
	h.Swap(out)

	b.Run("in-process", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			req := httptest.NewRequest(http.MethodGet, "/feed.xml", nil)
			req.Header.Set("If-None-Match", rss.ETag)
			for pb.Next() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusNotModified {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})

	b.Run("loopback", func(b *testing.B) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		client := srv.Client()
		client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
		// Go's client asks for gzip: revalidate with the ETag of the
		// representation it got, as a feed reader does.
		res, err := client.Get(srv.URL + "/feed.xml")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		etag := res.Header.Get("ETag")
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+"/feed.xml", nil)
				req.Header.Set("If-None-Match", etag)
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusNotModified {
					b.Fatalf("status %d", res.StatusCode)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
}
