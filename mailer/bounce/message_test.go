package bounce

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testSecret is also the secret of testdata/postfix/generate.sh.
const testSecret = "herald-bounce-test-secret"

func testVERP(t *testing.T) *VERP {
	t.Helper()
	v, err := NewVERP("bounces@bounce.herald.test", []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseMessages(t *testing.T) {
	tests := []struct {
		file      string
		format    string
		tag       *Tag
		messageID string
		events    []Event // Type, Recipient, Status, Action checked; Diagnostic by want substring
		diag      string
	}{
		{"postfix/unknown-user.eml", FormatDSN, &Tag{1, 2}, "herald.1.2.0000abcd@herald.test",
			[]Event{{Type: Hard, Source: SourceDSN, Recipient: "nosuchuser@herald.test", Action: "failed", Status: "5.1.1"}}, `unknown user: "nosuchuser"`},
		{"postfix/remote-550.eml", FormatDSN, &Tag{1, 3}, "herald.1.3.0000abcd@herald.test",
			[]Event{{Type: Hard, Source: SourceDSN, Recipient: "gone@remote.test", Action: "failed", Status: "5.1.1"}}, "550 5.1.1 <gone@remote.test>: Recipient address rejected: User unknown"},
		{"postfix/remote-451.eml", FormatDSN, &Tag{1, 4}, "herald.1.4.0000abcd@herald.test",
			[]Event{{Type: Soft, Source: SourceDSN, Recipient: "full@remote.test", Action: "failed", Status: "4.3.0"}}, "451 4.3.0"},
		{"delayed.eml", FormatDSN, &Tag{1, 7}, "herald.1.7.0000abcd@herald.test",
			[]Event{{Type: Other, Source: SourceDSN, Recipient: "carol@example.net", Action: "delayed", Status: "4.4.1"}}, "Connection timed out"},
		{"gmail.eml", FormatHeuristic, &Tag{1, 5}, "",
			[]Event{{Type: Hard, Source: SourceHeuristic, Action: "failed", Status: "5.1.1"}}, "550 5.1.1 The email account that you tried to reach does not exist"},
		{"exchange.eml", FormatHeuristic, &Tag{1, 6}, "",
			[]Event{{Type: Hard, Source: SourceHeuristic, Action: "failed", Status: "5.1.10"}}, "RESOLVER.ADR.RecipientNotFound"},
		{"qmail.eml", FormatHeuristic, &Tag{1, 7}, "",
			[]Event{{Type: Hard, Source: SourceHeuristic, Action: "failed", Status: "5.1.1"}}, "no mailbox here by that name"},
		{"qmail-temporary.eml", FormatHeuristic, &Tag{1, 7}, "",
			[]Event{{Type: Soft, Source: SourceHeuristic, Action: "failed"}}, "temporary error"},
		// A non-standard bounce without a VERP match is not understood.
		{"qmail-no-verp.eml", FormatUnknown, nil, "", nil, ""},
		{"arf.eml", FormatARF, &Tag{2, 8}, "herald.2.8.0000abcd@herald.test",
			[]Event{{Type: Complaint, Source: SourceARF, Recipient: "dave@example.com", Action: "abuse"}}, "abuse SomeGenerator/1.0"},
		{"arf-no-verp.eml", FormatARF, nil, "herald.2.8.0000abcd@herald.test",
			[]Event{{Type: Complaint, Source: SourceARF, Recipient: "dave@example.com", Action: "abuse"}}, "abuse"},
		{"vacation.eml", FormatAutoReply, &Tag{2, 9}, "",
			[]Event{{Type: AutoReply, Source: SourceAutoReply}}, "Out of Office: Hello"},
		// Its text says "does not exist": still an auto-reply, not a bounce.
		{"vacation-outlook.eml", FormatAutoReply, &Tag{2, 9}, "",
			[]Event{{Type: AutoReply, Source: SourceAutoReply}}, "Automatic reply: Hello"},
		{"autoreply-precedence.eml", FormatAutoReply, &Tag{2, 9}, "",
			[]Event{{Type: AutoReply, Source: SourceAutoReply}}, "Re: Hello"},
		{"human-reply.eml", FormatUnknown, &Tag{2, 9}, "", nil, ""},
	}
	v := testVERP(t)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rep, err := Parse(readFixture(t, tt.file), nil, v)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Format != tt.format {
				t.Errorf("format = %q, want %q", rep.Format, tt.format)
			}
			if (rep.Tag == nil) != (tt.tag == nil) || (rep.Tag != nil && *rep.Tag != *tt.tag) {
				t.Errorf("tag = %v, want %v", rep.Tag, tt.tag)
			}
			if rep.MessageID != tt.messageID {
				t.Errorf("message id = %q, want %q", rep.MessageID, tt.messageID)
			}
			if len(rep.Events) != len(tt.events) {
				t.Fatalf("events = %+v, want %d", rep.Events, len(tt.events))
			}
			for i, want := range tt.events {
				got := rep.Events[i]
				if got.Type != want.Type || got.Source != want.Source || got.Recipient != want.Recipient ||
					got.Action != want.Action || got.Status != want.Status {
					t.Errorf("event %d = %+v, want %+v", i, got, want)
				}
				if got.MessageID != tt.messageID {
					t.Errorf("event %d message id = %q, want %q", i, got.MessageID, tt.messageID)
				}
				if !strings.Contains(got.Diagnostic, tt.diag) {
					t.Errorf("event %d diagnostic = %q, want it to hold %q", i, got.Diagnostic, tt.diag)
				}
			}
		})
	}
}

// A VERP address with a wrong MAC anywhere makes the whole message an
// error, even when it is also a readable DSN.
func TestParseBadMAC(t *testing.T) {
	v := testVERP(t)
	if _, err := Parse(readFixture(t, "gmail-bad-mac.eml"), nil, v); !errors.Is(err, ErrBadTag) {
		t.Fatalf("gmail-bad-mac.eml: err = %v, want ErrBadTag", err)
	}
	// The envelope recipient of a real DSN forged to another delivery.
	forged := v.Encode(Tag{1, 99})
	forged = forged[:len(forged)-len("@bounce.herald.test")-1] + "a@bounce.herald.test"
	if _, err := Parse(readFixture(t, "postfix/unknown-user.eml"), []string{forged}, v); !errors.Is(err, ErrBadTag) {
		t.Fatalf("forged envelope: err = %v, want ErrBadTag", err)
	}
	// Without a VERP configured, the DSN still parses (matched later by
	// its Message-ID) and no tag is claimed.
	rep, err := Parse(readFixture(t, "postfix/unknown-user.eml"), nil, nil)
	if err != nil || rep.Tag != nil || rep.Format != FormatDSN {
		t.Fatalf("no VERP: %+v, %v", rep, err)
	}
}

func TestParseEnvelopeTag(t *testing.T) {
	v := testVERP(t)
	// A heuristic bounce whose headers name no VERP address, delivered
	// by LMTP to one: the envelope recipient proves the delivery.
	raw := readFixture(t, "qmail-no-verp.eml")
	rep, err := Parse(raw, []string{"<" + v.Encode(Tag{3, 4}) + ">"}, v)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Format != FormatHeuristic || rep.Tag == nil || *rep.Tag != (Tag{3, 4}) {
		t.Fatalf("got %+v", rep)
	}
}

func TestParseLimits(t *testing.T) {
	if _, err := Parse(make([]byte, MaxMessageSize+1), nil, nil); err == nil {
		t.Fatal("oversized message accepted")
	}
	if _, err := Parse([]byte("no header here"), nil, nil); err == nil {
		t.Fatal("garbage accepted")
	}
	// Deeply nested multiparts stop at maxDepth without error.
	msg := "From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
	for i := 1; i < 40; i++ {
		msg += "--b" + itoa(i-1) + "\r\nContent-Type: multipart/mixed; boundary=b" + itoa(i) + "\r\n\r\n"
	}
	if _, err := Parse([]byte(msg), nil, nil); err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
