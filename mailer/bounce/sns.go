package bounce

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// snsHost is the host of an Amazon SNS endpoint: its certificates and
// subscription links must come from one.
var snsHost = regexp.MustCompile(`^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// SNSVerifier checks the signature of Amazon SNS messages with the
// certificate named by their SigningCertURL, fetched over HTTPS from an
// sns.<region>.amazonaws.com host and cached.
type SNSVerifier struct {
	// Client fetches certificates and confirms subscriptions; nil is
	// http.DefaultClient (tests give one trusting their own CA).
	Client *http.Client
	// HostOK says whether a host may serve certificates and subscription
	// links; nil accepts only sns.<region>.amazonaws.com.
	HostOK func(host string) bool
	Clock  Clock // nil: the system clock

	mu    sync.Mutex
	certs map[string]*x509.Certificate
}

// snsMessage is an SNS HTTP(S) delivery.
type snsMessage struct {
	Type             string
	MessageId        string
	Token            string
	TopicArn         string
	Subject          *string
	Message          string
	Timestamp        string
	SignatureVersion string
	Signature        string
	SigningCertURL   string `json:"SigningCertURL"`
	SubscribeURL     string `json:"SubscribeURL"`
}

func (v *SNSVerifier) client() *http.Client {
	if v.Client != nil {
		return v.Client
	}
	return http.DefaultClient
}

// checkURL accepts only https URLs on an allowed host.
func (v *SNSVerifier) checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil {
		return nil, fmt.Errorf("%w: %q is not an https URL", errUnauthorized, raw)
	}
	ok := snsHost.MatchString
	if v.HostOK != nil {
		ok = v.HostOK
	}
	if !ok(u.Hostname()) {
		return nil, fmt.Errorf("%w: host %q is not an SNS host", errUnauthorized, u.Hostname())
	}
	return u, nil
}

// stringToSign builds the canonical text SNS signs.
func (m *snsMessage) stringToSign() (string, error) {
	var b strings.Builder
	add := func(k, v string) { b.WriteString(k + "\n" + v + "\n") }
	switch m.Type {
	case "Notification":
		add("Message", m.Message)
		add("MessageId", m.MessageId)
		if m.Subject != nil {
			add("Subject", *m.Subject)
		}
		add("Timestamp", m.Timestamp)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		add("Message", m.Message)
		add("MessageId", m.MessageId)
		add("SubscribeURL", m.SubscribeURL)
		add("Timestamp", m.Timestamp)
		add("Token", m.Token)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	default:
		return "", fmt.Errorf("bounce: unknown SNS message type %q", m.Type)
	}
	return b.String(), nil
}

// verify checks m's signature.
func (v *SNSVerifier) verify(ctx context.Context, m *snsMessage) error {
	text, err := m.stringToSign()
	if err != nil {
		return err
	}
	var (
		h    crypto.Hash
		hsum []byte
	)
	switch m.SignatureVersion {
	case "1":
		s := sha1.Sum([]byte(text))
		h, hsum = crypto.SHA1, s[:]
	case "2":
		s := sha256.Sum256([]byte(text))
		h, hsum = crypto.SHA256, s[:]
	default:
		return fmt.Errorf("%w: SNS SignatureVersion %q", errUnauthorized, m.SignatureVersion)
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return fmt.Errorf("%w: SNS signature is not base64", errUnauthorized)
	}
	cert, err := v.cert(ctx, m.SigningCertURL)
	if err != nil {
		return err
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: SNS certificate key is not RSA", errUnauthorized)
	}
	if err := rsa.VerifyPKCS1v15(pub, h, hsum, sig); err != nil {
		return fmt.Errorf("%w: SNS signature: %v", errUnauthorized, err)
	}
	return nil
}

// cert returns the certificate at raw, fetched once.
func (v *SNSVerifier) cert(ctx context.Context, raw string) (*x509.Certificate, error) {
	u, err := v.checkURL(raw)
	if err != nil {
		return nil, err
	}
	key := u.String()
	v.mu.Lock()
	c := v.certs[key]
	v.mu.Unlock()
	if c == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, key, nil)
		if err != nil {
			return nil, fmt.Errorf("bounce: SNS certificate: %w", err)
		}
		resp, err := v.client().Do(req)
		if err != nil {
			return nil, fmt.Errorf("bounce: fetching SNS certificate: %w", err)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("bounce: fetching SNS certificate: status %d, %v", resp.StatusCode, err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: SNS certificate is not PEM", errUnauthorized)
		}
		if c, err = x509.ParseCertificate(blk.Bytes); err != nil {
			return nil, fmt.Errorf("%w: SNS certificate: %v", errUnauthorized, err)
		}
		v.mu.Lock()
		if v.certs == nil || len(v.certs) >= 32 {
			v.certs = map[string]*x509.Certificate{}
		}
		v.certs[key] = c
		v.mu.Unlock()
	}
	var now time.Time
	if v.Clock != nil {
		now = v.Clock.Now()
	} else {
		now = systemClock{}.Now()
	}
	if now.Before(c.NotBefore) || now.After(c.NotAfter) {
		return nil, fmt.Errorf("%w: SNS certificate is not valid now", errUnauthorized)
	}
	return c, nil
}

// confirm visits a verified subscription's SubscribeURL.
func (v *SNSVerifier) confirm(ctx context.Context, raw string) error {
	u, err := v.checkURL(raw)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := v.client().Do(req)
	if err != nil {
		return fmt.Errorf("bounce: confirming the SNS subscription: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bounce: confirming the SNS subscription: status %d", resp.StatusCode)
	}
	return nil
}

// ses verifies an SNS delivery and returns the SES events it carries.
func (w *Webhooks) ses(ctx context.Context, _ *http.Request, body []byte) ([]Event, error) {
	var m snsMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: not an SNS message: %v", errUnauthorized, err)
	}
	if m.TopicArn != w.topicARN {
		return nil, fmt.Errorf("%w: SNS topic %q is not bounce.ses.topic_arn", errUnauthorized, m.TopicArn)
	}
	if err := w.opts.SNS.verify(ctx, &m); err != nil {
		return nil, err
	}
	switch m.Type {
	case "SubscriptionConfirmation":
		if err := w.opts.SNS.confirm(ctx, m.SubscribeURL); err != nil {
			return nil, err
		}
		w.log.Info("SNS subscription confirmed", "topic", m.TopicArn)
		return nil, nil
	case "UnsubscribeConfirmation":
		w.log.Warn("SNS subscription ended", "topic", m.TopicArn)
		return nil, nil
	}
	return ParseSES([]byte(m.Message))
}

// sesNotification is an SES bounce/complaint notification (or an event
// publishing record, which names its kind in eventType).
type sesNotification struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Bounce           *struct {
		BounceType        string `json:"bounceType"`
		BounceSubType     string `json:"bounceSubType"`
		Timestamp         string `json:"timestamp"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Action         string `json:"action"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint *struct {
		ComplaintFeedbackType string `json:"complaintFeedbackType"`
		ComplaintSubType      string `json:"complaintSubType"`
		Timestamp             string `json:"timestamp"`
		ComplainedRecipients  []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
	} `json:"complaint"`
	Mail struct {
		CommonHeaders struct {
			MessageID string `json:"messageId"`
		} `json:"commonHeaders"`
		Headers []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"headers"`
	} `json:"mail"`
}

// ParseSES reads the JSON of one SES notification (the SNS Message):
// Bounce (Permanent: Hard; Transient and Undetermined: Soft), Complaint,
// and anything else (Delivery…) as nothing.
func ParseSES(msg []byte) ([]Event, error) {
	var n sesNotification
	if err := json.Unmarshal(msg, &n); err != nil {
		return nil, fmt.Errorf("bounce: SES notification: %w", err)
	}
	kind := n.NotificationType
	if kind == "" {
		kind = n.EventType
	}
	mid := strings.Trim(n.Mail.CommonHeaders.MessageID, "<> ")
	for _, h := range n.Mail.Headers {
		if strings.EqualFold(h.Name, "Message-ID") {
			mid = strings.Trim(h.Value, "<> ")
		}
	}
	var out []Event
	switch kind {
	case "Bounce":
		if n.Bounce == nil {
			return nil, errors.New("bounce: SES Bounce without a bounce object")
		}
		typ := Soft
		if n.Bounce.BounceType == "Permanent" {
			typ = Hard
		}
		at, _ := time.Parse(time.RFC3339, n.Bounce.Timestamp)
		for _, r := range n.Bounce.BouncedRecipients {
			diag := r.DiagnosticCode
			if diag == "" {
				diag = n.Bounce.BounceType + " " + n.Bounce.BounceSubType
			}
			out = append(out, Event{Type: typ, Source: SourceSES, Recipient: bareAddress(r.EmailAddress),
				Action: strings.ToLower(n.Bounce.BounceType), Status: statusCode(r.Status),
				Diagnostic: oneLine(diag), MessageID: mid, At: at})
		}
	case "Complaint":
		if n.Complaint == nil {
			return nil, errors.New("bounce: SES Complaint without a complaint object")
		}
		at, _ := time.Parse(time.RFC3339, n.Complaint.Timestamp)
		for _, r := range n.Complaint.ComplainedRecipients {
			out = append(out, Event{Type: Complaint, Source: SourceSES, Recipient: bareAddress(r.EmailAddress),
				Action: "complaint", Diagnostic: oneLine(strings.TrimSpace(n.Complaint.ComplaintFeedbackType + " " + n.Complaint.ComplaintSubType)),
				MessageID: mid, At: at})
		}
	}
	return out, nil
}
