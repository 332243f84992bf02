package bounce

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"herald/feed/testkit"
)

var webhookNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// recorder is a Sink that keeps what it got.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) sink(_ context.Context, evs []Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, evs...)
	return nil
}

func (r *recorder) take() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.events
	r.events = nil
	return e
}

func post(t *testing.T, h http.Handler, body []byte, hdr map[string]string) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rw := httptest.NewRecorder()
	h.ServeHTTP(rw, req)
	return rw.Code
}

func TestParseProviderSamples(t *testing.T) {
	type want struct {
		typ       Type
		rcpt      string
		status    string
		messageID string
	}
	tests := []struct {
		file  string
		parse func([]byte) ([]Event, error)
		want  []want
	}{
		{"ses-bounce.json", ParseSES, []want{{Hard, "jane@example.com", "5.1.1", "herald.3.4.0000abcd@herald.test"}, {Hard, "Richard@example.com", "", "herald.3.4.0000abcd@herald.test"}}},
		{"ses-transient.json", ParseSES, []want{{Soft, "full@example.com", "4.2.2", "herald.3.5.0000abcd@herald.test"}}},
		{"ses-complaint.json", ParseSES, []want{{Complaint, "richard@example.com", "", "herald.3.6.0000abcd@herald.test"}}},
		{"ses-delivery.json", ParseSES, nil},
		{"postmark-bounce.json", ParsePostmark, []want{{Hard, "john@example.com", "", ""}}},
		{"postmark-soft.json", ParsePostmark, []want{{Soft, "soft@example.com", "", ""}}},
		{"postmark-autoresponder.json", ParsePostmark, []want{{AutoReply, "away@example.com", "", ""}}},
		{"postmark-spam.json", ParsePostmark, []want{{Complaint, "john@example.com", "", ""}}},
		{"mailgun-failed.json", ParseMailgun, []want{{Hard, "alice@example.com", "", "herald.3.7.0000abcd@herald.test"}}},
		{"mailgun-complained.json", ParseMailgun, []want{{Complaint, "alice@example.com", "", "herald.3.8.0000abcd@herald.test"}}},
		{"sendgrid-events.json", ParseSendGrid, []want{
			{Hard, "example@test.com", "5.0.0", "herald.3.9.0000abcd@herald.test"},
			{Soft, "blocked@test.com", "4.0.0", "herald.3.10.0000abcd@herald.test"},
			{Complaint, "complainer@test.com", "", "herald.3.11.0000abcd@herald.test"}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			evs, err := tt.parse(readFixture(t, "webhooks/"+tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != len(tt.want) {
				t.Fatalf("got %d events %+v, want %d", len(evs), evs, len(tt.want))
			}
			for i, w := range tt.want {
				e := evs[i]
				if e.Type != w.typ || e.Recipient != w.rcpt || e.Status != w.status || e.MessageID != w.messageID {
					t.Errorf("event %d = %+v, want %+v", i, e, w)
				}
				if e.Type != AutoReply && e.Type != Complaint && e.Diagnostic == "" {
					t.Errorf("event %d has no diagnostic", i)
				}
			}
		})
	}
}

// snsFixture is a CA, an SNS signing certificate it issued, and an HTTPS
// server handing out the certificate and counting subscription
// confirmations.
type snsFixture struct {
	key       *rsa.PrivateKey
	srv       *httptest.Server
	certURL   string
	confirmed atomic.Int32
	fetched   atomic.Int32
}

func newSNSFixture(t *testing.T) *snsFixture {
	t.Helper()
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test SNS CA"},
		NotBefore: webhookNow.Add(-time.Hour), NotAfter: webhookNow.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	f := &snsFixture{}
	if f.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "sns.us-east-1.amazonaws.com"},
		NotBefore: webhookNow.Add(-time.Hour), NotAfter: webhookNow.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &f.key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})
	mux := http.NewServeMux()
	mux.HandleFunc("/SimpleNotificationService-test.pem", func(w http.ResponseWriter, r *http.Request) {
		f.fetched.Add(1)
		w.Write(pemCert)
	})
	mux.HandleFunc("/confirm", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("Token") == "tok" {
			f.confirmed.Add(1)
		}
	})
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	f.certURL = f.srv.URL + "/SimpleNotificationService-test.pem"
	return f
}

func (f *snsFixture) verifier() *SNSVerifier {
	return &SNSVerifier{Client: f.srv.Client(), HostOK: func(h string) bool { return h == "127.0.0.1" },
		Clock: testkit.NewClock(webhookNow)}
}

const testTopic = "arn:aws:sns:us-east-1:123456789012:herald-bounces"

// sign fills in the signature fields of m (version "1" or "2").
func (f *snsFixture) sign(t *testing.T, m map[string]any, version string) []byte {
	t.Helper()
	m["SignatureVersion"] = version
	if _, ok := m["SigningCertURL"]; !ok {
		m["SigningCertURL"] = f.certURL
	}
	raw, _ := json.Marshal(m)
	var sm snsMessage
	if err := json.Unmarshal(raw, &sm); err != nil {
		t.Fatal(err)
	}
	text, err := sm.stringToSign()
	if err != nil {
		t.Fatal(err)
	}
	var sig []byte
	if version == "1" {
		h := sha1.Sum([]byte(text))
		sig, err = rsa.SignPKCS1v15(rand.Reader, f.key, crypto.SHA1, h[:])
	} else {
		h := sha256.Sum256([]byte(text))
		sig, err = rsa.SignPKCS1v15(rand.Reader, f.key, crypto.SHA256, h[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	m["Signature"] = base64.StdEncoding.EncodeToString(sig)
	out, _ := json.Marshal(m)
	return out
}

func notification(t *testing.T, file string) map[string]any {
	return map[string]any{"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
		"TopicArn": testTopic, "Subject": "Amazon SES Email Receipt Notification",
		"Message": string(readFixture(t, "webhooks/"+file)), "Timestamp": "2026-11-28T11:59:00.000Z"}
}

func TestSESWebhook(t *testing.T) {
	f := newSNSFixture(t)
	var rec recorder
	cfg := Default()
	cfg.SES.TopicARN = testTopic
	w, err := NewWebhooks(&cfg, WebhookOptions{Sink: rec.sink, SNS: f.verifier(), Clock: testkit.NewClock(webhookNow)})
	if err != nil {
		t.Fatal(err)
	}
	h := w.Routes()[PathSES]
	if h == nil || len(w.Routes()) != 1 {
		t.Fatalf("routes = %v, want only %s", w.Routes(), PathSES)
	}
	for _, v := range []string{"1", "2"} {
		if code := post(t, h, f.sign(t, notification(t, "ses-bounce.json"), v), nil); code != http.StatusNoContent {
			t.Fatalf("SignatureVersion %s: status %d", v, code)
		}
		if evs := rec.take(); len(evs) != 2 || evs[0].Type != Hard || evs[0].Recipient != "jane@example.com" {
			t.Fatalf("SignatureVersion %s: events %+v", v, evs)
		}
	}
	if got := f.fetched.Load(); got != 1 {
		t.Errorf("certificate fetched %d times, want 1 (cached)", got)
	}

	// Forgeries: each answers 401 and records nothing.
	tampered := f.sign(t, notification(t, "ses-bounce.json"), "2")
	tampered = bytes.Replace(tampered, []byte("jane@example.com"), []byte("mary@example.com"), 1)
	otherTopic := notification(t, "ses-bounce.json")
	otherTopic["TopicArn"] = "arn:aws:sns:us-east-1:999999999999:evil"
	badHost := notification(t, "ses-bounce.json")
	badHost["SigningCertURL"] = "https://sns.us-east-1.amazonaws.com.evil.test/cert.pem"
	httpCert := notification(t, "ses-bounce.json")
	httpCert["SigningCertURL"] = strings.Replace(f.certURL, "https:", "http:", 1)
	unsigned := notification(t, "ses-bounce.json")
	unsigned["SignatureVersion"] = "2"
	unsigned["SigningCertURL"] = f.certURL
	unsigned["Signature"] = base64.StdEncoding.EncodeToString(make([]byte, 256))
	forged, _ := json.Marshal(unsigned)
	for name, body := range map[string][]byte{
		"tampered":    tampered,
		"other topic": f.sign(t, otherTopic, "2"),
		"bad host":    f.sign(t, badHost, "2"),
		"http cert":   f.sign(t, httpCert, "2"),
		"zero sig":    forged,
		"not json":    []byte("{"),
	} {
		if code := post(t, h, body, nil); code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, code)
		}
	}
	if evs := rec.take(); len(evs) != 0 {
		t.Fatalf("forgeries recorded %+v", evs)
	}

	// Subscription confirmation: verified, then the SubscribeURL visited.
	sub := map[string]any{"Type": "SubscriptionConfirmation", "MessageId": "165545c9", "Token": "tok",
		"TopicArn": testTopic, "Message": "You have chosen to subscribe…", "Timestamp": "2026-11-28T11:59:00.000Z",
		"SubscribeURL": f.srv.URL + "/confirm?Action=ConfirmSubscription&Token=tok"}
	if code := post(t, h, f.sign(t, sub, "1"), nil); code != http.StatusNoContent || f.confirmed.Load() != 1 {
		t.Fatalf("confirmation: status %d, confirmed %d", code, f.confirmed.Load())
	}
	// A signed confirmation whose link leaves the SNS hosts is refused.
	sub["SubscribeURL"] = "https://evil.test/confirm?Token=tok"
	if code := post(t, h, f.sign(t, sub, "1"), nil); code != http.StatusUnauthorized || f.confirmed.Load() != 1 {
		t.Fatalf("confirmation to evil host: status %d, confirmed %d", code, f.confirmed.Load())
	}
	if code := post(t, h, f.sign(t, notification(t, "ses-delivery.json"), "2"), nil); code != http.StatusNoContent {
		t.Fatalf("delivery notification: status %d", code)
	}
}

func TestSNSDefaultHostCheck(t *testing.T) {
	v := &SNSVerifier{}
	for host, ok := range map[string]bool{
		"https://sns.us-east-1.amazonaws.com/x.pem":             true,
		"https://sns.cn-north-1.amazonaws.com.cn/x.pem":         true,
		"https://sns.us-east-1.amazonaws.com.evil.test/x.pem":   false,
		"https://evilsns.us-east-1.amazonaws.com/x.pem":         false,
		"http://sns.us-east-1.amazonaws.com/x.pem":              false,
		"https://user@sns.us-east-1.amazonaws.com/x.pem":        false,
		"https://sns.us-east-1.amazonaws.com:8443/x.pem":        true,
		"https://s3.amazonaws.com/sns.us-east-1.amazonaws.com/": false,
	} {
		_, err := v.checkURL(host)
		if (err == nil) != ok {
			t.Errorf("checkURL(%q) = %v, want ok=%v", host, err, ok)
		}
	}
}

func TestPostmarkWebhook(t *testing.T) {
	t.Setenv("TEST_PM_PASSWORD", "pm-secret")
	var rec recorder
	cfg := Default()
	cfg.Postmark.PasswordEnv = "TEST_PM_PASSWORD"
	w, err := NewWebhooks(&cfg, WebhookOptions{Sink: rec.sink})
	if err != nil {
		t.Fatal(err)
	}
	h := w.Routes()[PathPostmark]
	body := readFixture(t, "webhooks/postmark-spam.json")
	auth := func(u, p string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p))}
	}
	for name, hdr := range map[string]map[string]string{"none": nil, "wrong password": auth("herald", "nope"), "wrong user": auth("x", "pm-secret")} {
		if code := post(t, h, body, hdr); code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, code)
		}
	}
	if evs := rec.take(); len(evs) != 0 {
		t.Fatalf("recorded %+v", evs)
	}
	if code := post(t, h, body, auth("herald", "pm-secret")); code != http.StatusNoContent {
		t.Fatalf("status %d", code)
	}
	if evs := rec.take(); len(evs) != 1 || evs[0].Type != Complaint {
		t.Fatalf("events %+v", evs)
	}
}

func mailgunBody(t *testing.T, key, file string, ts time.Time) []byte {
	t.Helper()
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(stamp + "tok123"))
	b, _ := json.Marshal(map[string]any{
		"signature":  map[string]string{"timestamp": stamp, "token": "tok123", "signature": hex.EncodeToString(mac.Sum(nil))},
		"event-data": json.RawMessage(readFixture(t, "webhooks/"+file)),
	})
	return b
}

func TestMailgunWebhook(t *testing.T) {
	t.Setenv("TEST_MG_KEY", "key-mailgun-signing")
	var rec recorder
	cfg := Default()
	cfg.Mailgun.SigningKeyEnv = "TEST_MG_KEY"
	w, err := NewWebhooks(&cfg, WebhookOptions{Sink: rec.sink, Clock: testkit.NewClock(webhookNow)})
	if err != nil {
		t.Fatal(err)
	}
	h := w.Routes()[PathMailgun]
	for name, body := range map[string][]byte{
		"other key": mailgunBody(t, "key-other", "mailgun-failed.json", webhookNow),
		"stale":     mailgunBody(t, "key-mailgun-signing", "mailgun-failed.json", webhookNow.Add(-time.Hour)),
	} {
		if code := post(t, h, body, nil); code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, code)
		}
	}
	if evs := rec.take(); len(evs) != 0 {
		t.Fatalf("recorded %+v", evs)
	}
	if code := post(t, h, mailgunBody(t, "key-mailgun-signing", "mailgun-failed.json", webhookNow), nil); code != http.StatusNoContent {
		t.Fatalf("status %d", code)
	}
	if evs := rec.take(); len(evs) != 1 || evs[0].Type != Hard || evs[0].Recipient != "alice@example.com" ||
		evs[0].Diagnostic != "550 5.1.1 The email account that you tried to reach does not exist" {
		t.Fatalf("events %+v", evs)
	}
	// Mailgun signs only timestamp and token: the same signature with
	// another body (or again) is a replay.
	replay := bytes.Replace(mailgunBody(t, "key-mailgun-signing", "mailgun-failed.json", webhookNow),
		[]byte("alice@example.com"), []byte("carol@example.com"), -1)
	if code := post(t, h, replay, nil); code != http.StatusUnauthorized {
		t.Fatalf("replayed token: status %d, want 401", code)
	}
	if evs := rec.take(); len(evs) != 0 {
		t.Fatalf("replay recorded %+v", evs)
	}
}

func TestSendGridWebhook(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	var rec recorder
	cfg := Default()
	cfg.SendGrid.PublicKey = base64.StdEncoding.EncodeToString(der)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	w, err := NewWebhooks(&cfg, WebhookOptions{Sink: rec.sink, Clock: testkit.NewClock(webhookNow)})
	if err != nil {
		t.Fatal(err)
	}
	h := w.Routes()[PathSendGrid]
	body := readFixture(t, "webhooks/sendgrid-events.json")
	sign := func(k *ecdsa.PrivateKey, ts time.Time, b []byte) map[string]string {
		stamp := strconv.FormatInt(ts.Unix(), 10)
		sum := sha256.Sum256(append([]byte(stamp), b...))
		sig, err := ecdsa.SignASN1(rand.Reader, k, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{sendGridSigHeader: base64.StdEncoding.EncodeToString(sig), sendGridTSHeader: stamp}
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hdr := sign(key, webhookNow, body)
	for name, tc := range map[string]struct {
		hdr  map[string]string
		body []byte
	}{
		"unsigned":  {nil, body},
		"other key": {sign(other, webhookNow, body), body},
		"stale":     {sign(key, webhookNow.Add(-time.Hour), body), body},
		"tampered":  {hdr, bytes.Replace(body, []byte("example@test.com"), []byte("victim@test.com"), 1)},
		"new stamp": {map[string]string{sendGridSigHeader: hdr[sendGridSigHeader], sendGridTSHeader: "1"}, body},
	} {
		if code := post(t, h, tc.body, tc.hdr); code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, code)
		}
	}
	if evs := rec.take(); len(evs) != 0 {
		t.Fatalf("recorded %+v", evs)
	}
	if code := post(t, h, body, hdr); code != http.StatusNoContent {
		t.Fatalf("status %d", code)
	}
	if evs := rec.take(); len(evs) != 3 {
		t.Fatalf("events %+v", evs)
	}
}

func TestWebhooksDisabledWithoutSecrets(t *testing.T) {
	cfg := Default()
	w, err := NewWebhooks(&cfg, WebhookOptions{Sink: (&recorder{}).sink})
	if err != nil {
		t.Fatal(err)
	}
	if r := w.Routes(); len(r) != 0 {
		t.Fatalf("routes without secrets: %v", r)
	}
}
