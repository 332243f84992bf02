package bounce

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
)

// MaxWebhookBody bounds a webhook request body (SendGrid batches events).
const MaxWebhookBody = 4 << 20

// Sink takes the verified events of one webhook request. An error makes
// the request fail with 500, so that the provider retries.
type Sink func(ctx context.Context, events []Event) error

// WebhookOptions configures NewWebhooks.
type WebhookOptions struct {
	Sink   Sink
	Clock  Clock // nil: the system clock
	Logger *slog.Logger
	// SNS verifies Amazon SNS messages; nil builds one with
	// http.DefaultClient and the sns.<region>.amazonaws.com host check.
	SNS *SNSVerifier
}

// Webhooks serves the enabled webhooks. Each answers 401 and changes
// nothing when the request's signature (or credentials) do not verify.
type Webhooks struct {
	opts       WebhookOptions
	log        *slog.Logger
	topicARN   string
	pmUser     string
	pmPassword string
	mgKey      []byte
	mgTokens   tokenCache
	sgKey      *ecdsa.PublicKey
}

// Paths of the webhooks, below server.public_url.
const (
	PathSES      = "/bounces/ses"
	PathPostmark = "/bounces/postmark"
	PathMailgun  = "/bounces/mailgun"
	PathSendGrid = "/bounces/sendgrid"
)

// NewWebhooks reads the secrets of cfg (validated) and returns the
// webhooks it enables.
func NewWebhooks(cfg *Config, opts WebhookOptions) (*Webhooks, error) {
	if opts.Sink == nil {
		return nil, errors.New("bounce: webhooks need a sink")
	}
	if opts.Clock == nil {
		opts.Clock = systemClock{}
	}
	w := &Webhooks{opts: opts, log: opts.Logger, topicARN: cfg.SES.TopicARN, pmUser: cfg.Postmark.Username}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if w.pmPassword, err = cfg.PostmarkPassword(); err != nil {
		return nil, fmt.Errorf("bounce: bounce.postmark: %w", err)
	}
	key, err := cfg.MailgunKey()
	if err != nil {
		return nil, fmt.Errorf("bounce: bounce.mailgun: %w", err)
	}
	if key != "" {
		w.mgKey = []byte(key)
	}
	if cfg.SendGrid.PublicKey != "" {
		if w.sgKey, err = ParseSendGridKey(cfg.SendGrid.PublicKey); err != nil {
			return nil, fmt.Errorf("bounce: bounce.sendgrid.public_key: %w", err)
		}
	}
	if w.topicARN != "" && w.opts.SNS == nil {
		w.opts.SNS = &SNSVerifier{Clock: w.opts.Clock}
	}
	return w, nil
}

// Routes returns the handlers of the enabled webhooks by path (PathSES…);
// empty when none is enabled.
func (w *Webhooks) Routes() map[string]http.Handler {
	r := map[string]http.Handler{}
	if w.topicARN != "" {
		r[PathSES] = w.handler(SourceSES, w.ses)
	}
	if w.pmPassword != "" {
		r[PathPostmark] = w.handler(SourcePostmark, w.postmark)
	}
	if w.mgKey != nil {
		r[PathMailgun] = w.handler(SourceMailgun, w.mailgun)
	}
	if w.sgKey != nil {
		r[PathSendGrid] = w.handler(SourceSendGrid, w.sendgrid)
	}
	return r
}

// errUnauthorized marks a request whose signature did not verify.
var errUnauthorized = errors.New("bounce: signature does not verify")

// parseFunc verifies and parses one request body. It returns
// errUnauthorized (wrapped) for a bad signature, another error for a
// malformed body.
type parseFunc func(ctx context.Context, r *http.Request, body []byte) ([]Event, error)

func (w *Webhooks) handler(source string, parse parseFunc) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			rw.Header().Set("Allow", "POST")
			http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, MaxWebhookBody))
		if err != nil {
			http.Error(rw, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		events, err := parse(r.Context(), r, body)
		if errors.Is(err, errUnauthorized) {
			w.log.Warn("bounce webhook refused", "source", source, "err", err, "remote", r.RemoteAddr)
			http.Error(rw, "unauthorized", http.StatusUnauthorized)
			return
		}
		if err != nil {
			w.log.Warn("bounce webhook malformed", "source", source, "err", err)
			http.Error(rw, "bad request", http.StatusBadRequest)
			return
		}
		if len(events) > 0 {
			if err := w.opts.Sink(r.Context(), events); err != nil {
				w.log.Error("bounce webhook not recorded", "source", source, "err", err)
				http.Error(rw, "not recorded, try again", http.StatusInternalServerError)
				return
			}
		}
		rw.WriteHeader(http.StatusNoContent)
	})
}
