package bounce

import "time"

// Clock is the time the webhooks check signatures and certificates
// against; nil in WebhookOptions and SNSVerifier means the system clock.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
