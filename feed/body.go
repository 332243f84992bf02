package feed

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// errTooLarge is readAllInto's error for a file that grew past the limit.
var errTooLarge = errors.New("file too large")

// readAllInto reads r to its end into buf (grown as needed; size is the
// expected size) and returns the bytes read. A short read that ends at the
// expected size is taken for the end of the file (as it is for a regular
// file), which saves the read that would return io.EOF. When more than
// limit bytes come, it stops and returns them with errTooLarge.
func readAllInto(r io.Reader, buf []byte, size, limit int64) ([]byte, error) {
	if want := int(min(size, limit)) + 512; cap(buf) < want {
		buf = make([]byte, 0, want)
	}
	for {
		if int64(len(buf)) > limit {
			return buf, errTooLarge
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		room := cap(buf) - len(buf)
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		if n > 0 && n < room && int64(len(buf)) == size {
			return buf, nil
		}
	}
}

// body re-reads p's file and returns its Markdown body (after the front
// matter, UTF-8 BOM removed, CRLF turned into LF) and the 1-based file line
// of its first line. The file must still have the hash the scan saw.
func (l *Loader) body(ctx context.Context, p *Post) (src []byte, line int, err error) {
	src, line, _, err = l.bodyInto(ctx, p, nil)
	return src, line, err
}

// bodyInto is body reading the file into buf (grown as needed), which it
// returns for reuse; src may point into it. When the scan that made p
// trusted its mtime (not racy) and the file still has that size and mtime,
// the file is not hashed again: the scan's cache relies on the same rule.
func (l *Loader) bodyInto(ctx context.Context, p *Post, buf []byte) (src []byte, line int, _ []byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, buf, fmt.Errorf("feed: %s: %w", p.File, err)
	}
	data, size, mtime, err := readFileStat(p.File, buf[:0], l.maxSize)
	if errors.Is(err, errTooLarge) {
		return nil, 0, data, fmt.Errorf("feed: %s: %s", p.File, tooLarge(max(size, int64(len(data))), l.maxSize))
	}
	if err != nil {
		return nil, 0, buf, fmt.Errorf("feed: %w", err)
	}
	buf = data
	if !p.mtimeTrusted || size != p.Size || int64(len(data)) != p.Size || !mtime.Equal(p.ModTime) {
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != p.Hash {
			return nil, 0, buf, fmt.Errorf("feed: %s: changed since scan", p.File)
		}
	}
	_, body, line, perr := splitFrontMatter(data)
	if perr != nil {
		return nil, 0, buf, fmt.Errorf("feed: %s:%d: %s", p.File, perr.line, perr.msg)
	}
	if bytes.IndexByte(body, '\r') >= 0 {
		body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
	}
	if perr := checkNesting(body, line); perr != nil {
		return nil, 0, buf, fmt.Errorf("feed: %s:%d: %s", p.File, perr.line, perr.msg)
	}
	return body, line, buf, nil
}
