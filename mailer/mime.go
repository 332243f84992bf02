package mailer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"
)

// segment is either pre-encoded quoted-printable bytes (static) or one line
// holding recipient placeholders, split around them and encoded per message.
type segment struct {
	enc    []byte
	pieces []piece // non-nil: a line (ending in "\n") to fill in and encode
}

// piece is literal text (mark < 0) or the recipient value number mark.
type piece struct {
	lit  string
	mark int
}

func writePart(buf *bytes.Buffer, boundary, ctype string, segs []segment, values []string) {
	buf.WriteString("--" + boundary + "\r\nContent-Type: " + ctype + "; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	var line []byte
	for _, s := range segs {
		if s.pieces == nil {
			buf.Write(s.enc)
			continue
		}
		line = line[:0]
		for _, pc := range s.pieces {
			if pc.mark < 0 {
				line = append(line, pc.lit...)
			} else {
				line = append(line, values[pc.mark]...)
			}
		}
		qp := quotedprintable.NewWriter(buf)
		qp.Write(line)
		qp.Close()
	}
}

// normalizeBody gives rendered text "\n" line endings and a final newline.
func normalizeBody(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s
}

// segmentize splits rendered text into lines, quoted-printable encodes the
// runs of lines without placeholders once, and keeps the lines with
// placeholders (split around them) for per-message encoding. Encoding line by
// line gives the same bytes as encoding the whole text, since hard line
// breaks reset the encoder.
func segmentize(s string, marks []string) []segment {
	s = normalizeBody(s)
	var segs []segment
	var static bytes.Buffer
	qp := quotedprintable.NewWriter(&static)
	flush := func() {
		qp.Close()
		if static.Len() > 0 {
			segs = append(segs, segment{enc: bytes.Clone(static.Bytes())})
		}
		static.Reset()
		qp = quotedprintable.NewWriter(&static)
	}
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		line := s[:i+1]
		s = s[i+1:]
		pieces := splitMarks(line, marks)
		if pieces == nil {
			io.WriteString(qp, line)
			continue
		}
		flush()
		segs = append(segs, segment{pieces: pieces})
	}
	flush()
	return segs
}

// splitMarks splits line around the marks; nil when it holds none.
func splitMarks(line string, marks []string) []piece {
	var out []piece
	for {
		at, which := -1, -1
		for k, m := range marks {
			if i := strings.Index(line, m); i >= 0 && (at < 0 || i < at) {
				at, which = i, k
			}
		}
		if at < 0 {
			if out == nil {
				return nil
			}
			if line != "" {
				out = append(out, piece{lit: line, mark: -1})
			}
			return out
		}
		if at > 0 {
			out = append(out, piece{lit: line[:at], mark: -1})
		}
		out = append(out, piece{mark: which})
		line = line[at+len(marks[which]):]
	}
}

// boundaryFor derives a deterministic MIME boundary from the content. It
// contains "=_", which never occurs in quoted-printable output.
func boundaryFor(text, html string, marks []string) string {
	h := sha256.New()
	for _, s := range []string{text, html} {
		for i, m := range marks {
			s = strings.ReplaceAll(s, m, fmt.Sprintf("{%d}", i))
		}
		io.WriteString(h, s)
		h.Write([]byte{0})
	}
	return "=_herald_" + hex.EncodeToString(h.Sum(nil)[:12])
}
