package callback_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tinyscale/tinyscale/callback"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func clock(t *time.Time) func() time.Time { return func() time.Time { return *t } }

func TestTokens_RoundTrip(t *testing.T) {
	now := t0
	tk := callback.NewTokens("front-secret", clock(&now))
	tests := []struct {
		name string
		c    callback.Claims
		ttl  time.Duration
	}{
		{"recording_ready", callback.Claims{Kind: callback.KindRecordingReady, Target: "https://gl.example.org/recording_ready", MeetingID: "room-1", ServerID: "bbb1"}, time.Hour},
		{"analytics", callback.Claims{Kind: callback.KindAnalytics, Target: "https://moodle.example.org/a?x=1&y=2", MeetingID: "m", ServerID: "bbb2"}, time.Hour},
		{"ended_without_target", callback.Claims{Kind: callback.KindEnded, MeetingID: "m", ServerID: "bbb3"}, time.Hour},
		{"hook_without_expiry", callback.Claims{Kind: callback.KindHook, HookID: "7", ServerID: "bbb1", Base: "https://lb.example.org"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := tk.Issue(tt.c, tt.ttl)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if strings.ContainsAny(tok, "/?#&=+ ") {
				t.Errorf("token %q has characters that are not path-safe", tok)
			}
			got, err := tk.Parse(tok)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got.Kind != tt.c.Kind || got.Target != tt.c.Target || got.MeetingID != tt.c.MeetingID ||
				got.ServerID != tt.c.ServerID || got.HookID != tt.c.HookID || got.Base != tt.c.Base {
				t.Errorf("got claims %+v, want %+v", got, tt.c)
			}
			if (tt.ttl > 0) != (got.ExpiresAt != nil) {
				t.Errorf("got ExpiresAt %v for ttl %v", got.ExpiresAt, tt.ttl)
			}
			if tt.ttl > 0 && got.ID == "" {
				t.Errorf("got empty ID for a token with a ttl")
			}
		})
	}
}

func TestTokens_Deterministic(t *testing.T) {
	tk := callback.NewTokens("s", nil)
	c := callback.Claims{Kind: callback.KindHook, HookID: "1", ServerID: "a", Base: "http://lb"}
	a, _ := tk.Issue(c, 0)
	b, _ := tk.Issue(c, 0)
	if a != b {
		t.Errorf("got two different tokens for the same claims without ttl")
	}
	e := callback.Claims{Kind: callback.KindEnded, MeetingID: "m", ServerID: "a"}
	x, _ := tk.Issue(e, time.Hour)
	y, _ := tk.Issue(e, time.Hour)
	if x == y {
		t.Errorf("got the same token twice for tokens with ttl; want distinct IDs")
	}
}

func TestTokens_Refused(t *testing.T) {
	now := t0
	tk := callback.NewTokens("front-secret", clock(&now))
	good, err := tk.Issue(callback.Claims{Kind: callback.KindRecordingReady, Target: "https://a.example/x", MeetingID: "m", ServerID: "s"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "a.example", "evil.example", 1))) + "." + parts[2]

	other := callback.NewTokens("other-secret", clock(&now))
	foreign, _ := other.Issue(callback.Claims{Kind: callback.KindRecordingReady, Target: "https://a.example/x", ServerID: "s"}, time.Hour)

	// A JWT signed with the raw front-end secret (what tinyscale sends to
	// clients) must not pass as a relay token.
	rawSecret, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"knd": "recording-ready", "tgt": "https://evil.example", "srv": "s", "iss": "tinyscale"}).SignedString([]byte("front-secret"))
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"knd": "recording-ready", "srv": "s", "iss": "tinyscale"}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	unknownKind := signWithKey(t, tk, jwt.MapClaims{"knd": "nope", "srv": "s", "iss": "tinyscale"})
	noIssuer := signWithKey(t, tk, jwt.MapClaims{"knd": "ended", "srv": "s"})

	tests := []struct {
		name    string
		token   string
		expired bool
	}{
		{"empty", "", false},
		{"garbage", "not-a-token", false},
		{"tampered_payload", tampered, false},
		{"other_key", foreign, false},
		{"raw_front_secret", rawSecret, false},
		{"alg_none", none, false},
		{"unknown_kind", unknownKind, false},
		{"no_issuer", noIssuer, false},
		{"huge", strings.Repeat("a", 10000), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tk.Parse(tt.token)
			if !errors.Is(err, callback.ErrInvalidToken) {
				t.Errorf("Parse: got %v, want ErrInvalidToken", err)
			}
			if _, err := tk.Decode(tt.token); !errors.Is(err, callback.ErrInvalidToken) {
				t.Errorf("Decode: got %v, want ErrInvalidToken", err)
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		now = t0.Add(2 * time.Hour)
		defer func() { now = t0 }()
		_, err := tk.Parse(good)
		if !errors.Is(err, callback.ErrTokenExpired) || !errors.Is(err, callback.ErrInvalidToken) {
			t.Errorf("Parse: got %v, want ErrTokenExpired and ErrInvalidToken", err)
		}
		c, err := tk.Decode(good)
		if err != nil || c.Target != "https://a.example/x" {
			t.Errorf("Decode of an expired token: got %+v, %v; want its claims", c, err)
		}
	})
}

// signWithKey signs arbitrary claims with the key Tokens derives from
// "front-secret", to test claim checks behind a valid signature.
func signWithKey(t *testing.T, _ *callback.Tokens, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(callback.DeriveKeyForTest("front-secret"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestIssue_UnknownKind(t *testing.T) {
	tk := callback.NewTokens("s", nil)
	if _, err := tk.Issue(callback.Claims{Kind: "x"}, 0); err == nil {
		t.Errorf("Issue with unknown kind: got nil error, want one")
	}
}

func TestSplitPath(t *testing.T) {
	tests := []struct {
		name, path, kind, token string
		ok                      bool
	}{
		{"full", "/tinyscale/callback/recording-ready/abc.def.ghi", "recording-ready", "abc.def.ghi", true},
		{"prefixed_mount", "/lb/tinyscale/callback/hook/t", "hook", "t", true},
		{"stripped", "ended/tok", "ended", "tok", true},
		{"stripped_slash", "/analytics/tok", "analytics", "tok", true},
		{"unknown_kind", "/tinyscale/callback/other/tok", "", "", false},
		{"no_token", "/tinyscale/callback/ended/", "", "", false},
		{"no_slash", "/tinyscale/callback/ended", "", "", false},
		{"extra_segment", "/tinyscale/callback/ended/a/b", "", "", false},
		{"empty", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, tok, ok := callback.SplitPath(tt.path)
			if kind != tt.kind || tok != tt.token || ok != tt.ok {
				t.Errorf("got (%q, %q, %v), want (%q, %q, %v)", kind, tok, ok, tt.kind, tt.token, tt.ok)
			}
		})
	}
}

func TestURL_ParseURL(t *testing.T) {
	tests := []struct {
		name, base, kind, token, want string
	}{
		{"plain", "https://lb.example.org", "hook", "t1", "https://lb.example.org/tinyscale/callback/hook/t1"},
		{"trailing_slash", "https://lb.example.org/", "ended", "t2", "https://lb.example.org/tinyscale/callback/ended/t2"},
		{"sub_path", "https://example.org/lb", "analytics", "t3", "https://example.org/lb/tinyscale/callback/analytics/t3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := callback.URL(tt.base, tt.kind, tt.token)
			if got != tt.want {
				t.Fatalf("URL: got %q, want %q", got, tt.want)
			}
			kind, tok, ok := callback.ParseURL(got + "?checksum=x")
			if !ok || kind != tt.kind || tok != tt.token {
				t.Errorf("ParseURL: got (%q, %q, %v), want (%q, %q, true)", kind, tok, ok, tt.kind, tt.token)
			}
		})
	}
	if _, _, ok := callback.ParseURL("https://gl.example.org/recording_ready"); ok {
		t.Errorf("ParseURL of a client URL: got ok, want not a relay URL")
	}
}
