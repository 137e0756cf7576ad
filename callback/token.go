// Package callback holds the transport-light logic of tinyscale's callback
// relay: BigBlueButton servers call back URLs that clients gave at create
// time (recording ready, analytics, meeting ended) and webhook URLs, signing
// what they send with their own secret, while clients verify with the
// secret they share with tinyscale. tinyscale therefore hands each server a
// relay URL of its own that carries the original target in a signed token,
// verifies what the server sends with that server's secret, re-signs it
// with the client-facing secret and delivers it, with retries.
//
// The package provides the relay tokens (Tokens), verification and
// re-signing of what servers send (VerifyRecordingReady, VerifyAnalytics,
// VerifyHookChecksum, Resign), and delivery with retry and backoff
// (Deliverer). Wiring to HTTP handlers, the store and the fleet lives in
// package gateway.
package callback

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// PathPrefix is the path under which tinyscale serves relay endpoints. A
// relay URL is <public base>PathPrefix<kind>/<token>.
const PathPrefix = "/tinyscale/callback/"

// Relay kinds. Each names one endpoint under PathPrefix; a token is only
// valid on the endpoint of its own kind.
const (
	// KindRecordingReady relays meta_bbb-recording-ready-url (and the
	// bn-/canvas- variants): POST form signed_parameters=<HS256 JWT>.
	KindRecordingReady = "recording-ready"
	// KindAnalytics relays meta_analytics-callback-url: POST JSON with a
	// Bearer HS512 JWT.
	KindAnalytics = "analytics"
	// KindEnded receives meetingEndedURL calls: a plain GET.
	KindEnded = "ended"
	// KindHook relays bbb-webhooks event deliveries.
	KindHook = "hook"
)

// ValidKind reports whether kind is one of the relay kinds.
func ValidKind(kind string) bool {
	switch kind {
	case KindRecordingReady, KindAnalytics, KindEnded, KindHook:
		return true
	}
	return false
}

// Token errors. Every failure of Tokens.Parse wraps ErrInvalidToken;
// an expired but otherwise valid token also wraps ErrTokenExpired.
var (
	ErrInvalidToken = errors.New("invalid callback token")
	ErrTokenExpired = errors.New("callback token expired")
)

// Claims is what a relay token carries. Short JSON names keep relay URLs,
// which BBB stores in its metadata, reasonably short.
type Claims struct {
	// Kind is the relay kind; it must match the endpoint the token is used on.
	Kind string `json:"knd"`
	// Target is the client's original URL; empty for an ended token without
	// a client meetingEndedURL, and for hook tokens (whose target is the
	// stored hook's CallbackURL).
	Target string `json:"tgt,omitempty"`
	// MeetingID is the external meetingID of the create the token was made for.
	MeetingID string `json:"mid,omitempty"`
	// ServerID names the server the relay URL was handed to; only that
	// server's signature is accepted on calls carrying the token.
	ServerID string `json:"srv"`
	// HookID is tinyscale's hook ID (hook tokens only).
	HookID string `json:"hid,omitempty"`
	// Base is the public base URL the relay URL was built with (hook tokens
	// only), so the exact URL a server signs can be rebuilt.
	Base string `json:"base,omitempty"`
	jwt.RegisteredClaims
}

// Tokens issues and checks relay tokens: HS256 JWTs whose key is derived
// from tinyscale's secret, so every instance sharing the secret accepts
// every other instance's tokens, and neither a client's nor a server's
// signature can pass as one. The zero value is not usable; use NewTokens.
// A Tokens is safe for concurrent use.
type Tokens struct {
	key []byte
	now func() time.Time
}

// NewTokens returns Tokens keyed from secret. now defaults to time.Now.
func NewTokens(secret string, now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	return &Tokens{key: deriveKey(secret), now: now}
}

// deriveKey returns the token key: HMAC-SHA256(secret, a fixed label).
func deriveKey(secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("tinyscale callback relay token v1"))
	return m.Sum(nil)
}

const tokenIssuer = "tinyscale"

// Issue signs c. A zero ttl issues a token that never expires; otherwise
// the token expires ttl from now. When ttl is non-zero Issue also sets
// IssuedAt and a random ID (used to deliver each callback once). With a
// zero ttl the token is deterministic: the same claims give the same token.
func (t *Tokens) Issue(c Claims, ttl time.Duration) (string, error) {
	if !ValidKind(c.Kind) {
		return "", fmt.Errorf("issue callback token: unknown kind %q", c.Kind)
	}
	c.Issuer = tokenIssuer
	if ttl > 0 {
		now := t.now()
		c.IssuedAt = jwt.NewNumericDate(now)
		c.ExpiresAt = jwt.NewNumericDate(now.Add(ttl))
		var id [12]byte
		if _, err := rand.Read(id[:]); err != nil {
			return "", fmt.Errorf("issue callback token: %w", err)
		}
		c.ID = base64.RawURLEncoding.EncodeToString(id[:])
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.key)
	if err != nil {
		return "", fmt.Errorf("issue callback token: %w", err)
	}
	return s, nil
}

// Parse verifies token (signature, issuer, expiry) and returns its claims.
// It never returns claims of a token that fails verification. Errors wrap
// ErrInvalidToken (and ErrTokenExpired when only the expiry failed).
func (t *Tokens) Parse(token string) (Claims, error) {
	return t.parse(token, true)
}

// Decode is Parse without the expiry check: it still requires a valid
// signature. It is used to show clients their original URLs in metadata
// long after a token expired.
func (t *Tokens) Decode(token string) (Claims, error) {
	return t.parse(token, false)
}

func (t *Tokens) parse(token string, checkExpiry bool) (Claims, error) {
	var c Claims
	if len(token) > maxTokenLen {
		return Claims{}, fmt.Errorf("%w: too long", ErrInvalidToken)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithTimeFunc(t.now),
		jwt.WithIssuer(tokenIssuer),
	}
	if !checkExpiry {
		opts = append(opts, jwt.WithoutClaimsValidation())
	}
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.key, nil }, opts...)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, ErrTokenExpired)
		}
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if !checkExpiry && c.Issuer != tokenIssuer {
		return Claims{}, fmt.Errorf("%w: wrong issuer", ErrInvalidToken)
	}
	if !ValidKind(c.Kind) {
		return Claims{}, fmt.Errorf("%w: unknown kind", ErrInvalidToken)
	}
	return c, nil
}

// maxTokenLen bounds the tokens Parse looks at; real ones are well under 2 KiB.
const maxTokenLen = 8 << 10

// URL returns the relay URL for kind and token under base (a scheme and
// host with an optional path prefix; a trailing slash is ignored).
func URL(base, kind, token string) string {
	return strings.TrimRight(base, "/") + PathPrefix + kind + "/" + token
}

// SplitPath splits the path of a relay request into kind and token. It
// accepts the full path (…/tinyscale/callback/<kind>/<token>) and the
// path left after the prefix was stripped (<kind>/<token>). ok is false if
// the path has another shape, an unknown kind, or a token with characters
// a JWT never has (anything but letters, digits, '-', '_' and '.').
func SplitPath(path string) (kind, token string, ok bool) {
	if i := strings.Index(path, PathPrefix); i >= 0 {
		path = path[i+len(PathPrefix):]
	} else {
		path = strings.TrimPrefix(path, "/")
	}
	kind, token, found := strings.Cut(path, "/")
	if !found || !tokenChars(token) || !ValidKind(kind) {
		return "", "", false
	}
	return kind, token, true
}

func tokenChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// ParseURL reports whether u looks like a relay URL and returns its kind
// and token. It does not verify the token.
func ParseURL(u string) (kind, token string, ok bool) {
	i := strings.Index(u, PathPrefix)
	if i < 0 {
		return "", "", false
	}
	rest := u[i:]
	if j := strings.IndexAny(rest, "?#"); j >= 0 {
		rest = rest[:j]
	}
	return SplitPath(rest)
}
