package feed

import (
	"os"
	"strconv"
	"testing"
)

// TestWriteBenchPostsDir writes the benchmarks' generated posts to a
// folder, for measuring the herald binary itself (see BENCHMARKS.md):
//
//	HERALD_BENCH_POSTS=/tmp/posts10k HERALD_BENCH_N=10000 go test ./feed -run TestWriteBenchPostsDir
//
// Without HERALD_BENCH_POSTS it is skipped.
func TestWriteBenchPostsDir(t *testing.T) {
	dir := os.Getenv("HERALD_BENCH_POSTS")
	if dir == "" {
		t.Skip("set HERALD_BENCH_POSTS (and HERALD_BENCH_N) to write generated posts")
	}
	n := 10000
	if s := os.Getenv("HERALD_BENCH_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("HERALD_BENCH_N: %v", err)
		}
		n = v
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeBenchPosts(t, dir, n)
}
