package feed

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Defaults of the [posts] limits.
const (
	DefaultMaxPostSize   = 4 << 20          // posts.max_size
	DefaultRenderTimeout = 10 * time.Second // posts.render_timeout
	// maxNesting bounds how deeply a post's Markdown nests blockquotes and
	// lists: goldmark's time grows faster than the depth (a 2000-level
	// list took 20 s), and no real post nests that deep.
	maxNesting = 64
	// maxTitle bounds a post's title, in characters: it goes into every
	// feed and into the subject of every mail.
	maxTitle = 1000
)

// ErrRenderTimeout is returned (wrapped) by Loader.Render when a post took
// longer than posts.render_timeout to render. The rendering goes on in the
// background and is cached when done: a later Render returns it.
var ErrRenderTimeout = errors.New("rendering took longer than posts.render_timeout")

// errNotRegular is the error for a post file that is not a regular file (a
// named pipe, a device, a socket): it is never read, as reading it could
// block for ever.
var errNotRegular = errors.New("not a regular file (a named pipe, device or socket?); skipped")

// Size is a number of bytes that decodes from a TOML string such as "4MB",
// "100KB", "512B" or "1048576" (units are powers of 1024: KB = KiB).
type Size int64

// UnmarshalText parses a size.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText formats the size as String does.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// String formats the size with the largest unit that divides it ("4MB",
// "100KB", "1000B").
func (s Size) String() string {
	for _, u := range sizeUnits {
		if u.n > 1 && s != 0 && int64(s)%u.n == 0 {
			return strconv.FormatInt(int64(s)/u.n, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

var sizeUnits = []struct {
	name string
	n    int64
}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}}

// ParseSize parses "4MB", "100 KB", "512B", "1048576" (bytes); units are
// powers of 1024 and case does not matter ("KiB", "k" work too).
func ParseSize(text string) (Size, error) {
	t := strings.TrimSpace(text)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	num, unit := t[:i], strings.ToUpper(strings.TrimSpace(t[i:]))
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || i == 0 {
		return 0, fmt.Errorf("invalid size %q (use a form like \"4MB\", \"100KB\", \"512B\")", text)
	}
	unit = strings.TrimSuffix(strings.Replace(unit, "IB", "B", 1), "B")
	mult := int64(1)
	switch unit {
	case "":
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("invalid size %q: unknown unit (use B, KB, MB or GB)", text)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q: too large", text)
	}
	return Size(n * mult), nil
}

// humanSize formats n bytes for messages: "50.0 MB", "512 bytes".
func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// tooLarge is the message for a post file over the size limit.
func tooLarge(size, limit int64) string {
	return fmt.Sprintf("file is %s, more than posts.max_size (%s); skipped", humanSize(size), Size(limit))
}

// SetLimits applies the [posts] limits (max_size, render_timeout) to the
// loader; zero values keep the defaults. Call it before the first Scan.
func (l *Loader) SetLimits(c *PostsConfig) {
	if c.MaxSize > 0 {
		l.maxSize = int64(c.MaxSize)
	}
	if c.RenderTimeout.Duration > 0 {
		l.renderTimeout = c.RenderTimeout.Duration
	}
}

// checkNesting reports the first line of the Markdown body src (whose first
// line is file line first) where blockquotes and lists nest deeper than
// maxNesting. The depth of a line is the number of ">" and list markers it
// starts with, plus half its indentation when it has such a marker (each
// level of a nested list is indented by two spaces or more). Fenced code
// is skipped. It is an estimate that errs on the generous side: what it
// rejects would take goldmark seconds to minutes.
func checkNesting(src []byte, first int) *postError {
	var fence byte // '`' or '~' inside a fenced code block
	line := first
	for pos := 0; pos < len(src); line++ {
		end := pos
		for end < len(src) && src[end] != '\n' {
			end++
		}
		l := src[pos:end]
		pos = end + 1
		indent := 0
		i := 0
		for ; i < len(l) && (l[i] == ' ' || l[i] == '\t'); i++ {
			if l[i] == '\t' {
				indent += 4 - indent%4
			} else {
				indent++
			}
		}
		if rest := l[i:]; len(rest) >= 3 && (rest[0] == '`' || rest[0] == '~') && rest[1] == rest[0] && rest[2] == rest[0] {
			switch fence {
			case 0:
				fence = rest[0]
			case rest[0]:
				fence = 0
			}
			continue
		}
		if fence != 0 {
			continue
		}
		markers := 0
		for i < len(l) {
			c := l[i]
			switch {
			case c == ' ' || c == '\t':
				i++
				continue
			case c == '>':
				markers++
				i++
				continue
			case c == '-' || c == '*' || c == '+':
				if i+1 == len(l) || l[i+1] == ' ' || l[i+1] == '\t' {
					markers++
					i++
					continue
				}
			case c >= '0' && c <= '9':
				j := i
				for j < len(l) && j-i < 9 && l[j] >= '0' && l[j] <= '9' {
					j++
				}
				if j < len(l) && (l[j] == '.' || l[j] == ')') && (j+1 == len(l) || l[j+1] == ' ') {
					markers++
					i = j + 1
					continue
				}
			}
			break
		}
		depth := markers
		if markers > 0 {
			depth += indent / 2
		}
		if depth > maxNesting {
			return &postError{line, fmt.Sprintf("blockquotes and lists nest %d levels deep, more than %d: the post is not rendered", depth, maxNesting)}
		}
	}
	return nil
}
