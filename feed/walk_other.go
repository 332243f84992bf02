//go:build !(linux && (amd64 || arm64))

package feed

import (
	"os"
	"time"
)

// walk reads the folder dir, whose path in the posts folder is rel ("" for
// the posts folder itself). Only a failure to read the posts folder itself
// is an error; an unreadable subfolder or file is a Problem.
func (w *walker) walk(dir, rel string) error { return w.walkPortable(dir, rel) }

// readFileInto reads the whole file into buf (grown as needed; size is the
// expected size) and returns the bytes read.
func readFileInto(file string, buf []byte, size int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllInto(f, buf, size)
}

// walkScratch is the walk's memory, kept by the Loader between scans.
type walkScratch struct{}

// readFileStat reads the whole file into buf (grown as needed) and returns
// the bytes with the size and mtime the open file had before the read.
func readFileStat(file string, buf []byte) (data []byte, size int64, mtime time.Time, err error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	data, err = readAllInto(f, buf, fi.Size())
	return data, fi.Size(), fi.ModTime(), err
}
