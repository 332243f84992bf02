package schedule

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestWatchSkipsUnderscoreFolders: a Jekyll site as the posts folder has
// _site (rebuilt by Jekyll) and other "_" folders the loader never reads;
// the watch leaves them out but keeps every _posts folder.
func TestWatchSkipsUnderscoreFolders(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"_posts", "_site/blog", "_drafts", "news/_posts", "assets"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(d)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	w, err := newWatcher(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	var got []string
	for _, p := range w.fs.WatchList() {
		rel, _ := filepath.Rel(dir, p)
		got = append(got, filepath.ToSlash(rel))
	}
	slices.Sort(got)
	if want := []string{".", "_posts", "assets", "news", "news/_posts"}; !slices.Equal(got, want) {
		t.Errorf("watched %q, want %q", got, want)
	}
}
