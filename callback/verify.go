package callback

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// ErrBadSignature is wrapped by every verification failure of what a
// server sends: a missing, malformed or wrongly signed JWT or checksum.
var ErrBadSignature = errors.New("bad callback signature")

// RecordingReady is the verified content of a recording-ready callback.
type RecordingReady struct {
	// MeetingID and RecordID are the meeting_id and record_id claims.
	MeetingID, RecordID string
	// Claims holds every claim as the server sent it (numbers kept as
	// json.Number), so re-signing keeps them exactly.
	Claims jwt.MapClaims
}

// VerifyRecordingReady checks signed_parameters from a recording-ready
// callback: an HS256 JWT signed with the server's secret, carrying a
// record_id. BBB sets no exp; one that is present must not be past.
// Other algorithms are refused, as Greenlight and Moodle refuse them.
func VerifyRecordingReady(signed, serverSecret string) (RecordingReady, error) {
	claims, err := verifyJWT(signed, serverSecret, jwt.SigningMethodHS256)
	if err != nil {
		return RecordingReady{}, err
	}
	rr := RecordingReady{Claims: claims}
	rr.MeetingID, _ = claims["meeting_id"].(string)
	rr.RecordID, _ = claims["record_id"].(string)
	if rr.RecordID == "" {
		return RecordingReady{}, fmt.Errorf("%w: no record_id claim", ErrBadSignature)
	}
	return rr, nil
}

// VerifyAnalytics checks the Authorization header of an analytics callback:
// "Bearer <JWT>", HS512, signed with the server's secret, not expired. It
// returns the claims for re-signing.
func VerifyAnalytics(authorization, serverSecret string) (jwt.MapClaims, error) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, fmt.Errorf("%w: no bearer token", ErrBadSignature)
	}
	return verifyJWT(strings.TrimSpace(tok), serverSecret, jwt.SigningMethodHS512)
}

func verifyJWT(tok, secret string, method jwt.SigningMethod) (jwt.MapClaims, error) {
	if tok == "" {
		return nil, fmt.Errorf("%w: no token", ErrBadSignature)
	}
	if len(tok) > maxTokenLen {
		return nil, fmt.Errorf("%w: token too long", ErrBadSignature)
	}
	if secret == "" {
		return nil, fmt.Errorf("%w: no server secret", ErrBadSignature)
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{method.Alg()}), jwt.WithJSONNumber())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return claims, nil
}

// Resign signs claims with secret using method. Claims verified with
// WithJSONNumber keep their numbers' exact form.
func Resign(claims jwt.MapClaims, secret string, method jwt.SigningMethod) (string, error) {
	s, err := jwt.NewWithClaims(method, claims).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("re-sign callback: %w", err)
	}
	return s, nil
}

// HookChecksum returns bbb-webhooks' checksum of an event delivery:
// lower-case hex HASH(callbackURL + body + secret), where alg is sha1,
// sha256, sha384 or sha512 (sha1 if empty or unknown, bbb-webhooks'
// default).
func HookChecksum(alg, callbackURL string, body []byte, secret string) string {
	h := hookHash(alg)
	h.Write([]byte(callbackURL))
	h.Write(body)
	h.Write([]byte(secret))
	return hex.EncodeToString(h.Sum(nil))
}

func hookHash(alg string) hash.Hash {
	switch alg {
	case "sha256":
		return sha256.New()
	case "sha384":
		return sha512.New384()
	case "sha512":
		return sha512.New()
	}
	return sha1.New()
}

// VerifyHookChecksum checks the checksum a server attached to an event
// delivery to callbackURL (the URL exactly as registered, without the
// checksum). The algorithm follows from the checksum's length
// (40/64/96/128 hex characters), as everywhere in BBB; the comparison is
// case-insensitive and constant-time.
func VerifyHookChecksum(callbackURL string, body []byte, checksum, serverSecret string) error {
	var alg string
	switch len(checksum) {
	case 40:
		alg = "sha1"
	case 64:
		alg = "sha256"
	case 96:
		alg = "sha384"
	case 128:
		alg = "sha512"
	default:
		return fmt.Errorf("%w: missing or malformed checksum", ErrBadSignature)
	}
	if serverSecret == "" {
		return fmt.Errorf("%w: no server secret", ErrBadSignature)
	}
	want := HookChecksum(alg, callbackURL, body, serverSecret)
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(checksum))) != 1 {
		return fmt.Errorf("%w: checksum does not match", ErrBadSignature)
	}
	return nil
}

// VerifyBearerSecret checks bbb-webhooks' auth2_0 mode, in which a server
// sends "Authorization: Bearer <its shared secret>" instead of a checksum.
func VerifyBearerSecret(authorization, serverSecret string) error {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || serverSecret == "" {
		return fmt.Errorf("%w: no bearer secret", ErrBadSignature)
	}
	// Compare MACs so the comparison does not leak the secret's length.
	k := []byte("tinyscale bearer compare")
	a := hmac.New(sha256.New, k)
	a.Write([]byte(strings.TrimSpace(tok)))
	b := hmac.New(sha256.New, k)
	b.Write([]byte(serverSecret))
	if !hmac.Equal(a.Sum(nil), b.Sum(nil)) {
		return fmt.Errorf("%w: bearer secret does not match", ErrBadSignature)
	}
	return nil
}
