//go:build !(linux && (amd64 || arm64))

package feed

import (
	"io/fs"
	"os"
	"syscall"
	"time"
)

// walk reads the folder dir, whose path in the posts folder is rel ("" for
// the posts folder itself). Only a failure to read the posts folder itself
// is an error; an unreadable subfolder or file is a Problem.
func (w *walker) walk(dir, rel string) error { return w.walkPortable(dir, rel) }

// readFileInto reads the whole regular file into buf (grown as needed;
// size is the expected size) and returns the bytes read; past limit bytes
// it stops with errTooLarge.
func readFileInto(file string, buf []byte, size, limit int64) ([]byte, error) {
	data, _, _, err := readFileStat(file, buf, limit)
	return data, err
}

// walkScratch is the walk's memory, kept by the Loader between scans.
type walkScratch struct{}

// readFileStat reads the whole regular file into buf (grown as needed)
// and returns the bytes with the size and mtime the open file had before
// the read; past limit bytes it stops with errTooLarge.
func readFileStat(file string, buf []byte, limit int64) (data []byte, size int64, mtime time.Time, err error) {
	f, fi, err := openRegular(file)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	defer f.Close()
	if fi.Size() > limit {
		return buf[:0], fi.Size(), fi.ModTime(), errTooLarge
	}
	data, err = readAllInto(f, buf, fi.Size(), limit)
	return data, fi.Size(), fi.ModTime(), err
}

// openRegular opens file for reading without blocking (a named pipe put
// in the place of a post would otherwise block the open until a writer
// comes) and checks on the opened file that it is a regular file.
func openRegular(file string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, &fs.PathError{Op: "open", Path: file, Err: errNotRegular}
	}
	return f, fi, nil
}
