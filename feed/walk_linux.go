//go:build linux && (amd64 || arm64)

package feed

import (
	"encoding/binary"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// The folder walk on Linux reads directory entries with getdents64 into a
// buffer reused between scans and stats post files with fstatat relative
// to the folder's descriptor, several files at a time: an unchanged rescan
// of 10,000 posts allocates almost nothing per file and does not resolve
// the folder's path once per file. Entries whose type the folder does not
// report (DT_UNKNOWN), symlinks and special files take the portable path
// (visit).

// Offsets in a linux_dirent64 record.
const (
	direntReclen = 16
	direntType   = 18
	direntName   = 19
)

// parallelStats is the number of files in a folder from which their stats
// are spread over several goroutines.
const parallelStats = 256

// atSymlinkNofollow is fstatat's AT_SYMLINK_NOFOLLOW flag (lstat).
const atSymlinkNofollow = 0x100

// walkScratch is the walk's memory, kept by the Loader between scans.
type walkScratch struct {
	dirbuf []byte    // a folder's dirent records
	keybuf []byte    // a cache key being looked up
	jobs   []statJob // a folder's files to stat
}

// statJob is one post file of a folder to stat.
type statJob struct {
	off, n int         // its name in the dirent buffer
	entry  *cacheEntry // its cache entry, nil when none
	err    error
	// From its stat:
	mode      uint32
	size      int64
	sec, nsec int64 // mtime
}

// walk reads the folder dir, whose path in the posts folder is rel ("" for
// the posts folder itself). Only a failure to read the posts folder itself
// is an error; an unreadable subfolder or file is a Problem.
func (w *walker) walk(dir, rel string) error {
	if w.portable {
		return w.walkPortable(dir, rel)
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	fd, err := openDir(dir)
	if err == nil {
		defer syscall.Close(fd)
		w.l.scratch.dirbuf, err = readDirents(fd, dir, w.l.scratch.dirbuf[:0])
	}
	if err != nil {
		if rel == "" {
			return err
		}
		w.problems = append(w.problems, Problem{File: dir, Msg: "cannot read folder: " + unwrapPathError(err)})
		return nil
	}
	sc := &w.l.scratch
	buf := sc.dirbuf
	key := sc.keybuf[:0]
	if rel != "" {
		key = append(append(key, rel...), '/')
	}
	plen := len(key)
	jobs := sc.jobs[:0]
	var subdirs []string
	var others []fs.DirEntry
	for pos := 0; pos+direntName < len(buf); {
		reclen := int(binary.NativeEndian.Uint16(buf[pos+direntReclen:]))
		if reclen == 0 {
			break
		}
		rec := buf[pos : pos+reclen]
		pos += reclen
		name := rec[direntName:]
		n := 0
		for n < len(name) && name[n] != 0 {
			n++
		}
		name = name[:n]
		if n == 0 || name[0] == '.' {
			continue
		}
		switch rec[direntType] {
		case syscall.DT_DIR:
			if name[0] == '_' && string(name) != "_posts" {
				continue
			}
			subdirs = append(subdirs, string(name))
		case syscall.DT_REG:
			key = append(key[:plen], name...)
			e := w.l.cache[string(key)]
			if e == nil {
				if _, _, _, ok := postName(string(name)); !ok {
					w.ignored(dir+string(filepath.Separator)+string(name), string(name))
					continue
				}
			}
			jobs = append(jobs, statJob{off: pos - reclen + direntName, n: n, entry: e})
		default: // unknown, symlink, special file: the portable way
			sname := string(name)
			file := dir + string(filepath.Separator) + sname
			fi, err := os.Lstat(file)
			if err != nil {
				if _, _, _, ok := postName(sname); ok {
					w.statFailed(file, err)
				}
				continue
			}
			others = append(others, fs.FileInfoToDirEntry(fi))
		}
	}
	sc.keybuf = key

	statAll(fd, buf, jobs)
	for i := range jobs {
		j := &jobs[i]
		var crel, file string
		if j.entry != nil {
			crel, file = j.entry.rel, j.entry.file
		} else {
			name := string(buf[j.off : j.off+j.n])
			crel, file = name, dir+string(filepath.Separator)+name
			if rel != "" {
				crel = rel + "/" + name
			}
		}
		if j.err != nil {
			w.statFailed(file, &fs.PathError{Op: "lstat", Path: file, Err: j.err})
			continue
		}
		if j.mode&syscall.S_IFMT != syscall.S_IFREG {
			if j.mode&syscall.S_IFMT != syscall.S_IFDIR {
				w.notRegular(file)
			}
			continue
		}
		w.add(crel, file, j.size, time.Unix(j.sec, j.nsec), j.entry)
	}
	clear(jobs) // drop the cache entries they point to
	sc.jobs = jobs[:0]

	for _, d := range others {
		if err := w.visit(dir, rel, d); err != nil {
			return err
		}
	}
	for _, name := range subdirs {
		crel := name
		if rel != "" {
			crel = rel + "/" + name
		}
		if err := w.walk(dir+string(filepath.Separator)+name, crel); err != nil {
			return err
		}
	}
	return nil
}

// statAll fills in the stat (or error) of every job, relative to the
// folder descriptor fd; buf holds the NUL-terminated names.
func statAll(fd int, buf []byte, jobs []statJob) {
	stat := func(part []statJob) {
		for i := range part {
			j := &part[i]
			var st syscall.Stat_t
			for {
				_, _, errno := syscall.Syscall6(sysFstatat, uintptr(fd), uintptr(unsafe.Pointer(&buf[j.off])),
					uintptr(unsafe.Pointer(&st)), atSymlinkNofollow, 0, 0)
				if errno == syscall.EINTR {
					continue
				}
				if errno != 0 {
					j.err = errno
				}
				break
			}
			j.mode, j.size = st.Mode, st.Size
			j.sec, j.nsec = st.Mtim.Unix()
		}
	}
	workers := min(runtime.GOMAXPROCS(0), 4, len(jobs)/parallelStats+1)
	if workers <= 1 {
		stat(jobs)
		return
	}
	var wg sync.WaitGroup
	chunk := (len(jobs) + workers - 1) / workers
	for i := 0; i < len(jobs); i += chunk {
		part := jobs[i:min(i+chunk, len(jobs))]
		wg.Go(func() { stat(part) })
	}
	wg.Wait()
}

// openDir opens the folder dir for reading its entries.
func openDir(dir string) (int, error) { return sysOpen(dir, syscall.O_DIRECTORY) }

// openFile opens file for reading, without blocking (a named pipe put in
// the place of a post would otherwise block the open until a writer
// comes), and checks on the opened descriptor that it is a regular file:
// its stat is returned.
func openFile(file string) (int, syscall.Stat_t, error) {
	var st syscall.Stat_t
	fd, err := sysOpen(file, syscall.O_NONBLOCK)
	if err != nil {
		return -1, st, err
	}
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return -1, st, &fs.PathError{Op: "stat", Path: file, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		syscall.Close(fd)
		return -1, st, &fs.PathError{Op: "open", Path: file, Err: errNotRegular}
	}
	return fd, st, nil
}

// sysOpen opens path read-only with the extra flags, retrying on EINTR.
func sysOpen(path string, flags int) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|flags, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return fd, nil
	}
}

// readDirents appends every directory entry record of fd to buf.
func readDirents(fd int, dir string, buf []byte) ([]byte, error) {
	if cap(buf) < 64<<10 {
		buf = make([]byte, 0, 64<<10)
	}
	for {
		if cap(buf)-len(buf) < 8<<10 {
			buf = append(buf, make([]byte, cap(buf))...)[:len(buf)]
		}
		n, err := syscall.Getdents(fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return buf, &fs.PathError{Op: "readdirent", Path: dir, Err: err}
		}
		if n <= 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// readFileInto reads the whole regular file into buf (grown as needed;
// size is the expected size) and returns the bytes read; past limit bytes
// it stops with errTooLarge. It uses the system calls directly: a regular
// file gains nothing from the runtime's poller, and os.Open's bookkeeping
// cost as much as reading a post.
func readFileInto(file string, buf []byte, size, limit int64) ([]byte, error) {
	fd, st, err := openFile(file)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	if st.Size > limit {
		return buf[:0], errTooLarge
	}
	return readAllInto(fdReader{fd, file}, buf, size, limit)
}

// fdReader reads a file descriptor.
type fdReader struct {
	fd   int
	file string
}

func (r fdReader) Read(p []byte) (int, error) {
	for {
		n, err := syscall.Read(r.fd, p)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: r.file, Err: err}
		}
		if n == 0 && len(p) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

// readFileStat reads the whole regular file into buf (grown as needed)
// and returns the bytes with the size and mtime the open file had before
// the read; past limit bytes it stops with errTooLarge.
func readFileStat(file string, buf []byte, limit int64) (data []byte, size int64, mtime time.Time, err error) {
	fd, st, err := openFile(file)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	defer syscall.Close(fd)
	if st.Size > limit {
		return buf[:0], st.Size, time.Unix(st.Mtim.Unix()), errTooLarge
	}
	data, err = readAllInto(fdReader{fd, file}, buf, st.Size, limit)
	return data, st.Size, time.Unix(st.Mtim.Unix()), err
}
