package feed

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// feedNames are the file names Build writes in each feed folder; WriteDir
// only ever removes files with these names.
var feedNames = [...]string{RSSName, AtomName, JSONName}

// WriteDir writes out's files under dir (created when missing). A file whose
// bytes on disk already equal the new ones is left alone, so its mtime
// stays. Any other file is replaced atomically: written to a temporary file
// in the same folder, synced, renamed over the old one, and the folder is
// synced. Per-tag feed files (tags/<slug>/feed.xml, atom.xml, feed.json)
// that out no longer holds are removed, with their folder when it becomes
// empty; no other file in dir is touched. changed lists the names written or
// removed, in order.
func WriteDir(ctx context.Context, dir string, out *Output) (changed []string, err error) {
	if out == nil {
		return nil, errors.New("feed: write: nil output")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("feed: write: %w", err)
	}
	want := make(map[string]bool, len(out.Files))
	for _, f := range out.Files {
		if err := ctx.Err(); err != nil {
			return changed, fmt.Errorf("feed: write: %w", err)
		}
		if !validName(f.Name) {
			return changed, fmt.Errorf("feed: write: invalid file name %q", f.Name)
		}
		want[f.Name] = true
		wrote, err := writeIfChanged(filepath.Join(dir, filepath.FromSlash(f.Name)), f.Data)
		if err != nil {
			return changed, fmt.Errorf("feed: write %s: %w", f.Name, err)
		}
		if wrote {
			changed = append(changed, f.Name)
		}
	}
	removed, err := removeStaleTags(ctx, dir, want)
	changed = append(changed, removed...)
	if err != nil {
		return changed, fmt.Errorf("feed: write: %w", err)
	}
	return changed, nil
}

// validName accepts clean, relative, slash-separated names.
func validName(name string) bool {
	return name != "" && !strings.HasPrefix(name, "/") && !strings.Contains(name, `\`) &&
		path.Clean(name) == name && name != "." && !strings.HasPrefix(name, "../") && name != ".."
}

// writeIfChanged replaces file with data unless it already holds exactly
// data (compared a chunk at a time, not read whole; a file of another size
// is not read). It reports whether it wrote.
func writeIfChanged(file string, data []byte) (bool, error) {
	f, err := openDiffFile(file, int64(len(data)))
	if err != nil {
		return false, err
	}
	if _, err := f.Write(data); err != nil {
		f.abort()
		return false, err
	}
	return f.commit()
}

// syncDir makes a rename in folder durable.
func syncDir(folder string) error {
	d, err := os.Open(folder)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// removeStaleTags deletes dir/tags/*/{feed.xml,atom.xml,feed.json} that are
// not in want, and tag folders left empty.
func removeStaleTags(ctx context.Context, dir string, want map[string]bool) ([]string, error) {
	tagsDir := filepath.Join(dir, "tags")
	ents, err := os.ReadDir(tagsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, ent := range ents {
		if !ent.IsDir() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		folder := filepath.Join(tagsDir, ent.Name())
		touched := false
		for _, n := range feedNames {
			name := "tags/" + ent.Name() + "/" + n
			if want[name] {
				continue
			}
			err := os.Remove(filepath.Join(folder, n))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return removed, err
			}
			touched = true
			removed = append(removed, name)
		}
		if touched {
			if os.Remove(folder) != nil { // fails when not empty: keep it, make the removals durable
				if err := syncDir(folder); err != nil {
					return removed, err
				}
			}
		}
	}
	if len(removed) > 0 {
		if err := syncDir(tagsDir); err != nil {
			return removed, err
		}
	}
	slices.Sort(removed)
	return removed, nil
}
