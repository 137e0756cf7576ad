package callback

import (
	"net/http"
	"time"
)

// Defaults of Options.
const (
	DefaultTokenTTL   = 30 * 24 * time.Hour
	DefaultMaxPending = 1024
)

// Options configure the relay. The zero value gives the defaults.
type Options struct {
	// Retry is the retry policy of background deliveries (recording
	// ready, analytics, meeting ended). Webhook events are relayed while
	// the server waits, so the server's own retries apply to them.
	Retry Retry
	// Timeout bounds each delivery attempt, and a webhook relay; default 10s.
	Timeout time.Duration
	// TokenTTL is how long relay URLs handed out at create stay valid: a
	// recording published later than this after its create is not relayed.
	// Default 30 days. Webhook relay URLs do not expire; they stay valid
	// while the hook is stored.
	TokenTTL time.Duration
	// OnceTTL is how long a delivered callback is remembered so that it is
	// not delivered twice; default TokenTTL.
	OnceTTL time.Duration
	// MaxPending bounds the background deliveries in flight per instance;
	// beyond it a server's callback is answered 503. Default 1024.
	MaxPending int
	// HookAlgorithm is the checksum algorithm of relayed webhook events
	// (bbb-webhooks' hookChecksumAlgorithm): sha1 (default), sha256,
	// sha384 or sha512.
	HookAlgorithm string
	// HTTPClient makes deliveries; default NewHTTPClient().
	HTTPClient *http.Client
}

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	o.Retry = o.Retry.withDefaults()
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.OnceTTL <= 0 {
		o.OnceTTL = o.TokenTTL
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	switch o.HookAlgorithm {
	case "sha1", "sha256", "sha384", "sha512":
	default:
		o.HookAlgorithm = "sha1"
	}
	if o.HTTPClient == nil {
		o.HTTPClient = defaultClient
	}
	return o
}
