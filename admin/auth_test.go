package admin_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/admin"
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestAuth_Authorize(t *testing.T) {
	clk := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	a := admin.NewAuth(testToken, time.Hour, clk.now)
	issue := httptest.NewRequest(http.MethodPost, "http://lb.example.org/admin/login", nil)
	session := a.NewSessionCookie(issue)
	other := admin.NewAuth("another-token-entirely", time.Hour, clk.now).NewSessionCookie(issue)

	tests := []struct {
		name       string
		method     string
		header     map[string]string
		cookie     *http.Cookie
		advance    time.Duration
		wantStatus int // 0: admitted
	}{
		{"no_credentials", "GET", nil, nil, 0, 401},
		{"bearer_ok", "GET", map[string]string{"Authorization": "Bearer " + testToken}, nil, 0, 0},
		{"bearer_lowercase_scheme", "GET", map[string]string{"Authorization": "bearer " + testToken}, nil, 0, 0},
		{"bearer_post_needs_no_csrf", "POST", map[string]string{"Authorization": "Bearer " + testToken}, nil, 0, 0},
		{"bearer_wrong", "GET", map[string]string{"Authorization": "Bearer nope"}, nil, 0, 401},
		{"bearer_prefix_of_token", "GET", map[string]string{"Authorization": "Bearer " + testToken[:5]}, nil, 0, 401},
		{"basic_scheme", "GET", map[string]string{"Authorization": "Basic " + testToken}, nil, 0, 401},
		{"wrong_bearer_with_session", "GET", map[string]string{"Authorization": "Bearer nope"}, session, 0, 401},
		{"session_get", "GET", nil, session, 0, 0},
		{"session_post_without_csrf", "POST", nil, session, 0, 403},
		{"session_post_with_csrf", "POST", map[string]string{admin.CSRFHeader: "1"}, session, 0, 0},
		{"session_delete_with_csrf_same_origin", "DELETE", map[string]string{admin.CSRFHeader: "1", "Origin": "http://lb.example.org"}, session, 0, 0},
		{"session_post_foreign_origin", "POST", map[string]string{admin.CSRFHeader: "1", "Origin": "https://evil.example"}, session, 0, 403},
		{"session_expired", "GET", nil, session, time.Hour + time.Second, 401},
		{"session_of_other_token", "GET", nil, other, 0, 401},
		{"session_tampered", "GET", nil, &http.Cookie{Name: admin.SessionCookie, Value: strings.Replace(session.Value, "v1.", "v1.9", 1)}, 0, 401},
		{"session_garbage", "GET", nil, &http.Cookie{Name: admin.SessionCookie, Value: "garbage"}, 0, 401},
		{"token_as_cookie", "GET", nil, &http.Cookie{Name: admin.SessionCookie, Value: testToken}, 0, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: clk.t.Add(tt.advance)}
			a := admin.NewAuth(testToken, time.Hour, c.now)
			r := httptest.NewRequest(tt.method, "http://lb.example.org/admin/api/v1/servers", nil)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if tt.cookie != nil {
				r.AddCookie(tt.cookie)
			}
			err := a.Authorize(r)
			assertStatus(t, err, tt.wantStatus)
		})
	}
}

func assertStatus(t *testing.T, err error, want int) {
	t.Helper()
	if want == 0 {
		if err != nil {
			t.Errorf("got %v, want admitted", err)
		}
		return
	}
	var ae *admin.Error
	if !errors.As(err, &ae) || ae.Status != want {
		t.Errorf("got %v, want status %d", err, want)
	}
}

func TestAuth_LoopbackMode(t *testing.T) {
	a := admin.NewAuth("", 0, nil)
	if !a.LoopbackMode() {
		t.Fatal("got token mode, want loopback mode without a token")
	}
	tests := []struct {
		name       string
		method     string
		remote     string
		host       string
		header     map[string]string
		wantStatus int
	}{
		{"ipv4_loopback", "GET", "127.0.0.1:5555", "127.0.0.1:3005", nil, 0},
		{"ipv6_loopback", "GET", "[::1]:5555", "[::1]:3005", nil, 0},
		{"localhost_name", "GET", "127.0.0.1:5555", "localhost:3005", nil, 0},
		{"mapped_v4", "GET", "[::ffff:127.0.0.1]:5555", "127.0.0.1", nil, 0},
		{"remote_client", "GET", "203.0.113.9:5555", "127.0.0.1:3005", nil, 403},
		{"dns_rebinding_host", "GET", "127.0.0.1:5555", "evil.example:3005", nil, 403},
		{"through_proxy", "GET", "127.0.0.1:5555", "127.0.0.1:3005", map[string]string{"X-Forwarded-For": "203.0.113.9"}, 403},
		{"through_proxy_forwarded", "GET", "127.0.0.1:5555", "127.0.0.1:3005", map[string]string{"Forwarded": "for=203.0.113.9"}, 403},
		// The README promises "no X-Forwarded-* header"; only three
		// proxy headers were checked, so a proxy that sets just
		// X-Forwarded-Proto (as deploy/nginx.conf's /admin/ block does)
		// and passes a loopback Host looked local.
		{"through_proxy_proto_only", "GET", "127.0.0.1:5555", "127.0.0.1:3005", map[string]string{"X-Forwarded-Proto": "https"}, 403},
		{"through_proxy_port_only", "GET", "127.0.0.1:5555", "localhost:3005", map[string]string{"X-Forwarded-Port": "443"}, 403},
		{"through_proxy_via", "GET", "127.0.0.1:5555", "127.0.0.1:3005", map[string]string{"Via": "1.1 proxy"}, 403},
		{"post_without_csrf", "POST", "127.0.0.1:5555", "127.0.0.1:3005", nil, 403},
		{"post_with_csrf", "POST", "127.0.0.1:5555", "127.0.0.1:3005", map[string]string{admin.CSRFHeader: "1"}, 0},
		{"bearer_ignored", "GET", "203.0.113.9:5555", "lb.example.org", map[string]string{"Authorization": "Bearer x"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/admin/api/v1/status", nil)
			r.RemoteAddr = tt.remote
			r.Host = tt.host
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			assertStatus(t, a.Authorize(r), tt.wantStatus)
		})
	}
	t.Run("no_session_cookie", func(t *testing.T) {
		if c := a.NewSessionCookie(httptest.NewRequest("POST", "/admin/login", nil)); c != nil {
			t.Errorf("got cookie %v, want none in loopback mode", c)
		}
		if a.CheckToken("") {
			t.Error("got the empty token accepted, want refused")
		}
	})
}

func TestAuth_SessionCookie(t *testing.T) {
	a := admin.NewAuth(testToken, 2*time.Hour, nil)
	tests := []struct {
		name       string
		tls        bool
		proto      string
		wantSecure bool
	}{
		{"plain_http", false, "", false},
		{"tls", true, "", true},
		{"behind_https_proxy", false, "https", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := "http://lb.example.org/admin/login"
			if tt.tls {
				url = "https://lb.example.org/admin/login"
			}
			r := httptest.NewRequest(http.MethodPost, url, nil)
			if tt.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			c := a.NewSessionCookie(r)
			if c.Secure != tt.wantSecure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/admin/" || c.MaxAge != 7200 {
				t.Errorf("got %+v, want Secure=%v HttpOnly SameSite=Strict Path=/admin/ MaxAge=7200", c, tt.wantSecure)
			}
			if strings.Contains(c.Value, testToken) {
				t.Error("got the token in the cookie, want only a MAC")
			}
			if c2 := a.NewSessionCookie(r); c2.Value == c.Value {
				t.Error("got two identical sessions, want a fresh nonce each")
			}
			clr := a.ClearSessionCookie(r)
			if clr.MaxAge >= 0 || clr.Value != "" {
				t.Errorf("got clear cookie %+v, want MaxAge<0 and empty value", clr)
			}
		})
	}
}

func FuzzAuth_ValidSession(f *testing.F) {
	a := admin.NewAuth(testToken, time.Hour, nil)
	good := a.NewSessionCookie(httptest.NewRequest("POST", "/admin/login", nil)).Value
	for _, s := range []string{good, "", ".", "v1..", "v1.1.2.3", "v1.99999999999999999999.a.b", good + "x", strings.ToUpper(good)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		r := httptest.NewRequest("GET", "/admin/", nil)
		r.Header.Set("Cookie", admin.SessionCookie+"="+v)
		if !a.ValidSession(r) {
			return
		}
		// Accepted means: a well-formed payload whose MAC is right.
		c, err := r.Cookie(admin.SessionCookie)
		if err != nil {
			t.Fatalf("got %q accepted without a parsable cookie", v)
		}
		i := strings.LastIndexByte(c.Value, '.')
		if i < 0 || !strings.HasPrefix(c.Value, "v1.") || strings.Count(c.Value, ".") != 3 {
			t.Fatalf("got malformed %q accepted", c.Value)
		}
		k := hmac.New(sha256.New, []byte(testToken))
		k.Write([]byte("tinyscale admin session key v1"))
		m := hmac.New(sha256.New, k.Sum(nil))
		m.Write([]byte(c.Value[:i]))
		if want := base64.RawURLEncoding.EncodeToString(m.Sum(nil)); c.Value[i+1:] != want {
			t.Errorf("got %q accepted with a forged MAC", c.Value)
		}
	})
}
