package mailer

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"

	"golang.org/x/net/idna"

	"herald/schedule/store"
)

// maxAddressLen is the longest address accepted (RFC 5321's path limit
// less the angle brackets).
const maxAddressLen = 254

// ParseAddress validates a subscriber address, "ann@example.com" or
// "Ann <ann@example.com>", and returns the address and the display name. It
// must parse with net/mail, at most 254 bytes, without CR or LF, with an
// ASCII local part and a domain holding a dot (an address at a bare host
// name such as "root@localhost" cannot receive mail from the Internet). The
// domain is normalised: lower-cased, and an internationalised domain
// ("bücher.example") converted to its ASCII form ("xn--bcher-kva.example")
// by IDNA's lookup rules, so one mailbox has one spelling. The local part
// keeps its case for delivery; the store compares addresses without case.
func ParseAddress(s string) (email, name string, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "", errors.New("mailer: empty address")
	}
	if strings.ContainsAny(s, "\r\n") {
		return "", "", fmt.Errorf("mailer: address %q contains a line break", s)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", "", fmt.Errorf("mailer: bad address %q: %w", s, err)
	}
	at := strings.LastIndexByte(a.Address, '@')
	local, domain := a.Address[:at], a.Address[at+1:]
	if !isASCII(local) {
		return "", "", fmt.Errorf("mailer: address %q is not ASCII before the @ (internationalized local parts are not supported)", a.Address)
	}
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil || ascii == "" {
		return "", "", fmt.Errorf("mailer: address %q: domain %q is not a valid domain name", a.Address, domain)
	}
	if !strings.Contains(strings.Trim(ascii, "."), ".") || strings.Contains(ascii, "..") || strings.HasSuffix(ascii, ".") {
		return "", "", fmt.Errorf("mailer: address %q: domain %q is not a full domain name", a.Address, domain)
	}
	email = local + "@" + ascii
	if len(email) > maxAddressLen {
		return "", "", fmt.Errorf("mailer: address is %d bytes long, at most %d allowed", len(email), maxAddressLen)
	}
	return email, strings.TrimSpace(a.Name), nil
}

// ImportStore is what Import needs of the database.
type ImportStore interface {
	AddSubscribers(ctx context.Context, now time.Time, subs []store.NewSubscriber) ([]bool, error)
}

// importBatch is how many rows Import adds per transaction.
const importBatch = 500

// ImportResult reports what Import did.
type ImportResult struct {
	Added    int           // new subscribers
	Existing int           // addresses already known: left as they were
	Bad      []ImportError // rows not imported, in file order
}

// ImportError is one row Import rejected.
type ImportError struct {
	Line int    // 1-based line of the CSV input
	Text string // the address as read
	Err  error
}

// Error formats the problem as "line N: message".
func (e ImportError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the cause.
func (e ImportError) Unwrap() error { return e.Err }

// maxImportLine is the longest CSV line Import accepts.
const maxImportLine = 4096

// Import reads subscribers from CSV, one subscriber per line: email[,name];
// a header row naming an "email" column is optional and may place the
// columns anywhere and name more (so a file written by Export imports
// back). Without a header a row of more than two fields is an error (a
// misplaced comma must not pass silently); with one, a row of more fields
// than the header names is. Each line is parsed on its own (a quoted field
// cannot span lines), so an unterminated quote spoils its own line only.
// Each valid address is added at now, confirmed (the blogger vouches for
// them) or pending when pending is set. A "status" column, when present, is
// honoured for unsubscribed and pending rows, so re-importing an export
// never re-subscribes anyone. Known addresses are left untouched. Every row
// not imported is reported in Bad with its line; the good ones are
// imported, in transactions of 500 rows. The error is for the input as a
// whole (unreadable) or the database; rows before the failing batch stay
// imported.
func Import(ctx context.Context, db ImportStore, r io.Reader, now time.Time, pending bool) (ImportResult, error) {
	var res ImportResult
	colEmail, colName, colStatus := 0, 1, -1
	maxFields := 2 // without a header: email[,name]
	first := true
	var (
		batch []store.NewSubscriber
		lines []int // input line of each batch entry
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		created, err := db.AddSubscribers(ctx, now, batch)
		if err != nil {
			return fmt.Errorf("mailer: import lines %d-%d: %w", lines[0], lines[len(lines)-1], err)
		}
		for _, c := range created {
			if c {
				res.Added++
			} else {
				res.Existing++
			}
		}
		batch, lines = batch[:0], lines[:0]
		return nil
	}
	br := bufio.NewReaderSize(r, maxImportLine+2)
	for line := 1; ; line++ {
		raw, err := readImportLine(br)
		if errors.Is(err, io.EOF) {
			return res, flush()
		}
		bad := func(text string, err error) {
			res.Bad = append(res.Bad, ImportError{Line: line, Text: text, Err: err})
		}
		if errors.Is(err, errLineTooLong) {
			bad("", fmt.Errorf("mailer: line longer than %d bytes", maxImportLine))
			continue
		}
		if err != nil {
			return res, fmt.Errorf("mailer: import: line %d: %w", line, err)
		}
		if line == 1 {
			raw = strings.TrimPrefix(raw, "\ufeff")
		}
		if strings.TrimSpace(raw) == "" {
			continue // blank line
		}
		cr := csv.NewReader(strings.NewReader(raw))
		cr.FieldsPerRecord = -1
		cr.TrimLeadingSpace = true
		rec, err := cr.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			bad(raw, fmt.Errorf("mailer: %w", err))
			continue
		}
		if first {
			first = false
			if i := column(rec, "email"); i >= 0 {
				colEmail, colName, colStatus = i, column(rec, "name"), column(rec, "status")
				maxFields = len(rec)
				continue
			}
		}
		field := func(i int) string {
			if i < 0 || i >= len(rec) {
				return ""
			}
			return strings.TrimSpace(rec[i])
		}
		text := field(colEmail)
		if len(rec) > maxFields {
			if maxFields == 2 {
				bad(text, fmt.Errorf("mailer: %d fields, want email[,name] (a header row can name more columns)", len(rec)))
			} else {
				bad(text, fmt.Errorf("mailer: %d fields, the header names %d", len(rec), maxFields))
			}
			continue
		}
		email, name, err := ParseAddress(text)
		if err != nil {
			bad(text, err)
			continue
		}
		if n := field(colName); n != "" {
			name = n
		}
		if strings.ContainsAny(name, "\r\n") {
			bad(text, errors.New("mailer: name contains a line break"))
			continue
		}
		status := store.StatusConfirmed
		if pending {
			status = store.StatusPending
		}
		switch st := store.SubscriberStatus(strings.ToLower(field(colStatus))); st {
		case "", store.StatusConfirmed:
		case store.StatusPending, store.StatusUnsubscribed:
			status = st
		default:
			bad(text, fmt.Errorf("mailer: unknown status %q", st))
			continue
		}
		batch = append(batch, store.NewSubscriber{Email: email, Name: name, Status: status, Source: store.SourceImport})
		lines = append(lines, line)
		if len(batch) == importBatch {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
}

var errLineTooLong = errors.New("line too long")

// readImportLine returns the next line without its line ending (LF or
// CRLF); errLineTooLong (having skipped the rest of the line) when it is
// longer than maxImportLine; io.EOF at the end.
func readImportLine(br *bufio.Reader) (string, error) {
	b, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = br.ReadSlice('\n')
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return "", errLineTooLong
	}
	if err != nil && !(errors.Is(err, io.EOF) && len(b) > 0) {
		return "", err
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if len(s) > maxImportLine {
		return "", errLineTooLong
	}
	return s, nil
}

// column returns the index of the header field named name
// (case-insensitive), or -1.
func column(header []string, name string) int {
	for i, h := range header {
		if strings.EqualFold(strings.TrimSpace(h), name) {
			return i
		}
	}
	return -1
}

// ExportStore is what Export needs of the database.
type ExportStore interface {
	EachSubscriber(ctx context.Context, status store.SubscriberStatus, fn func(store.Subscriber) error) error
}

// Export writes every subscriber as CSV with a header row: email, name,
// status, source, created_at, confirmed_at, unsubscribed_at (RFC 3339 UTC;
// empty for never). It streams: memory does not grow with the list.
func Export(ctx context.Context, db ExportStore, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"email", "name", "status", "source", "created_at", "confirmed_at", "unsubscribed_at"}); err != nil {
		return fmt.Errorf("mailer: export: %w", err)
	}
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	err := db.EachSubscriber(ctx, "", func(s store.Subscriber) error {
		return cw.Write([]string{s.Email, s.Name, string(s.Status), string(s.Source),
			stamp(s.CreatedAt), stamp(s.ConfirmedAt), stamp(s.UnsubscribedAt)})
	})
	if err != nil {
		return fmt.Errorf("mailer: export: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("mailer: export: %w", err)
	}
	return nil
}
