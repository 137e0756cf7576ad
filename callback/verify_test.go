package callback_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tinyscale/tinyscale/callback"
)

func sign(t *testing.T, m jwt.SigningMethod, claims jwt.MapClaims, secret string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyRecordingReady(t *testing.T) {
	const secret = "server-secret"
	ok := jwt.MapClaims{"meeting_id": "room-1", "record_id": "abc-123"}
	tests := []struct {
		name    string
		token   string
		secret  string
		wantErr bool
	}{
		{"valid_hs256", sign(t, jwt.SigningMethodHS256, ok, secret), secret, false},
		{"wrong_secret", sign(t, jwt.SigningMethodHS256, ok, "other"), secret, true},
		{"hs512_refused", sign(t, jwt.SigningMethodHS512, ok, secret), secret, true},
		{"no_record_id", sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"meeting_id": "room-1"}, secret), secret, true},
		{"expired", sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"meeting_id": "m", "record_id": "r", "exp": time.Now().Add(-time.Hour).Unix()}, secret), secret, true},
		{"empty", "", secret, true},
		{"garbage", "a.b.c", secret, true},
		{"empty_server_secret", sign(t, jwt.SigningMethodHS256, ok, ""), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr, err := callback.VerifyRecordingReady(tt.token, tt.secret)
			if tt.wantErr {
				if !errors.Is(err, callback.ErrBadSignature) {
					t.Errorf("got %v, want ErrBadSignature", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			if rr.MeetingID != "room-1" || rr.RecordID != "abc-123" {
				t.Errorf("got (%q, %q), want (room-1, abc-123)", rr.MeetingID, rr.RecordID)
			}
		})
	}
}

func TestResign_KeepsClaims(t *testing.T) {
	// A large integer claim must survive verify + re-sign unchanged.
	orig := sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"meeting_id": "m", "record_id": "r", "n": int64(17171717171719)}, "srv")
	rr, err := callback.VerifyRecordingReady(orig, "srv")
	if err != nil {
		t.Fatal(err)
	}
	re, err := callback.Resign(rr.Claims, "front", jwt.SigningMethodHS256)
	if err != nil {
		t.Fatal(err)
	}
	got := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(re, got, func(*jwt.Token) (any, error) { return []byte("front"), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithJSONNumber()); err != nil {
		t.Fatalf("re-signed token does not verify with the front secret: %v", err)
	}
	if n := got["n"]; n == nil || n.(interface{ String() string }).String() != "17171717171719" {
		t.Errorf("got n=%v, want 17171717171719", n)
	}
	if got["meeting_id"] != "m" || got["record_id"] != "r" {
		t.Errorf("got claims %v, want meeting_id m and record_id r", got)
	}
}

func TestVerifyAnalytics(t *testing.T) {
	const secret = "server-secret"
	exp := jwt.MapClaims{"exp": time.Now().Add(24 * time.Hour).Unix()}
	tests := []struct {
		name    string
		header  string
		wantErr bool
	}{
		{"valid", "Bearer " + sign(t, jwt.SigningMethodHS512, exp, secret), false},
		{"lower_case_scheme", "bearer " + sign(t, jwt.SigningMethodHS512, exp, secret), false},
		{"hs256_refused", "Bearer " + sign(t, jwt.SigningMethodHS256, exp, secret), true},
		{"wrong_secret", "Bearer " + sign(t, jwt.SigningMethodHS512, exp, "x"), true},
		{"expired", "Bearer " + sign(t, jwt.SigningMethodHS512, jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()}, secret), true},
		{"no_scheme", sign(t, jwt.SigningMethodHS512, exp, secret), true},
		{"basic", "Basic abc", true},
		{"empty", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := callback.VerifyAnalytics(tt.header, secret)
			if (err != nil) != tt.wantErr {
				t.Errorf("got %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestHookChecksum(t *testing.T) {
	const (
		u    = "https://lb.example.org/tinyscale/callback/hook/tok"
		body = "domain=bbb1.example.org&event=%5B%5D&timestamp=1"
	)
	// sha1("abc") style vector: computed independently of the code under test.
	if got, want := callback.HookChecksum("sha1", "a", []byte("b"), "c"), "a9993e364706816aba3e25717850c26c9cd0d89d"; got != want {
		t.Errorf("HookChecksum sha1(abc): got %s, want %s", got, want)
	}
	tests := []struct {
		name    string
		alg     string
		mutate  func(string) string
		secret  string
		wantErr bool
	}{
		{"sha1", "sha1", nil, "s", false},
		{"sha256", "sha256", nil, "s", false},
		{"sha384", "sha384", nil, "s", false},
		{"sha512", "sha512", nil, "s", false},
		{"upper_case", "sha1", strings.ToUpper, "s", false},
		{"wrong_secret", "sha1", nil, "other", true},
		{"truncated", "sha1", func(s string) string { return s[:39] }, "s", true},
		{"empty", "sha1", func(string) string { return "" }, "s", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum := callback.HookChecksum(tt.alg, u, []byte(body), "s")
			if tt.mutate != nil {
				sum = tt.mutate(sum)
			}
			err := callback.VerifyHookChecksum(u, []byte(body), sum, tt.secret)
			if (err != nil) != tt.wantErr {
				t.Errorf("got %v, want error %v", err, tt.wantErr)
			}
		})
	}
	t.Run("other_body", func(t *testing.T) {
		sum := callback.HookChecksum("sha1", u, []byte(body), "s")
		if err := callback.VerifyHookChecksum(u, []byte(body+"x"), sum, "s"); err == nil {
			t.Errorf("got nil error for a changed body")
		}
	})
	t.Run("other_url", func(t *testing.T) {
		sum := callback.HookChecksum("sha1", u, []byte(body), "s")
		if err := callback.VerifyHookChecksum(u+"x", []byte(body), sum, "s"); err == nil {
			t.Errorf("got nil error for another URL")
		}
	})
}

func TestVerifyBearerSecret(t *testing.T) {
	tests := []struct {
		name, header, secret string
		wantErr              bool
	}{
		{"match", "Bearer s3cret", "s3cret", false},
		{"mismatch", "Bearer nope", "s3cret", true},
		{"prefix_of_secret", "Bearer s3c", "s3cret", true},
		{"no_scheme", "s3cret", "s3cret", true},
		{"empty_secret", "Bearer ", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := callback.VerifyBearerSecret(tt.header, tt.secret)
			if (err != nil) != tt.wantErr {
				t.Errorf("got %v, want error %v", err, tt.wantErr)
			}
		})
	}
}
