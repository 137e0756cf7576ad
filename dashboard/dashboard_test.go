package dashboard_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/admin"
	"github.com/tinyscale/tinyscale/dashboard"
	"github.com/tinyscale/tinyscale/fleet"
	"github.com/tinyscale/tinyscale/store/bolt"
)

const testToken = "dashboard-test-token-42"

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newSite serves the admin API and the dashboard as main mounts them, over
// a fleet with one (unreachable) server.
func newSite(tb testing.TB, token string) *httptest.Server {
	tb.Helper()
	st, err := bolt.Open(filepath.Join(tb.TempDir(), "t.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	s, _ := tinyscale.Server{ID: "bbb1", URL: "http://127.0.0.1:1", Secret: "secret-value-1"}.Normalize()
	if err := st.PutServer(context.Background(), s); err != nil {
		tb.Fatal(err)
	}
	f := fleet.New(st, fleet.Options{Logger: discard()})
	if err := f.Reload(context.Background()); err != nil {
		tb.Fatal(err)
	}
	cfg := admin.Config{Fleet: f, Token: token, Logger: discard(), CallTimeout: time.Second}
	mux := http.NewServeMux()
	mux.Handle(admin.PathPrefix, admin.NewHandler(cfg))
	mux.Handle(dashboard.PathPrefix, dashboard.NewHandler(dashboard.Config{Admin: cfg}))
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return srv
}

// browser is an HTTP client with cookies that does not follow redirects.
func browser(tb testing.TB) *http.Client {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func send(tb testing.TB, c *http.Client, method, u string, form url.Values, hdr map[string]string) answer {
	tb.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		tb.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func TestHandler_LoginFlow(t *testing.T) {
	srv := newSite(t, testToken)
	c := browser(t)
	steps := []struct {
		name       string
		method     string
		path       string
		form       url.Values
		hdr        map[string]string
		wantStatus int
		wantIn     string // substring of the body, or of Location for redirects
	}{
		{"page_redirects_to_login", "GET", "/admin/", nil, nil, 303, "/admin/login"},
		{"api_refuses", "GET", "/admin/api/v1/status", nil, nil, 401, "authentication required"},
		{"login_form", "GET", "/admin/login", nil, nil, 200, `name="token"`},
		{"wrong_token", "POST", "/admin/login", url.Values{"token": {"nope"}}, nil, 401, "not the admin token"},
		{"cross_origin_login", "POST", "/admin/login", url.Values{"token": {testToken}}, map[string]string{"Origin": "https://evil.example"}, 403, "Cross-origin"},
		{"right_token", "POST", "/admin/login", url.Values{"token": {testToken}}, nil, 303, "/admin/"},
		{"login_form_when_logged_in", "GET", "/admin/login", nil, nil, 303, "/admin/"},
		{"page", "GET", "/admin/", nil, nil, 200, `data-api="/admin/api/v1/"`},
		{"api_with_session", "GET", "/admin/api/v1/status", nil, nil, 200, `"servers"`},
		{"api_change_without_csrf", "POST", "/admin/api/v1/servers/bbb1/cordon", nil, nil, 403, "X-Tinyscale-CSRF"},
		{"api_change_with_csrf", "POST", "/admin/api/v1/servers/bbb1/cordon", nil, map[string]string{admin.CSRFHeader: "1"}, 200, `"cordoned"`},
		{"logout_get_refused", "GET", "/admin/logout", nil, nil, 405, "log out"},
		{"logout", "POST", "/admin/logout", url.Values{}, nil, 303, "/admin/login"},
		{"page_after_logout", "GET", "/admin/", nil, nil, 303, "/admin/login"},
		{"unknown_page", "GET", "/admin/nope", nil, nil, 404, "Not found"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			a := send(t, c, s.method, srv.URL+s.path, s.form, s.hdr)
			if a.status != s.wantStatus {
				t.Fatalf("got status %d, want %d (body %.200s)", a.status, s.wantStatus, a.body)
			}
			got := a.body
			if a.status == 303 {
				got = a.header.Get("Location")
			}
			if !strings.Contains(got, s.wantIn) {
				t.Errorf("got %.300q, want it to contain %q", got, s.wantIn)
			}
			if strings.Contains(a.body, testToken) || strings.Contains(a.header.Get("Set-Cookie"), testToken) {
				t.Error("got the token echoed, want it never sent back")
			}
			if strings.HasPrefix(s.path, "/admin/api/") {
				return
			}
			if csp := a.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("got CSP %q, want script-src 'self'", csp)
			}
		})
	}
}

func TestHandler_SessionCookieAttributes(t *testing.T) {
	srv := newSite(t, testToken)
	a := send(t, browser(t), "POST", srv.URL+"/admin/login", url.Values{"token": {testToken}}, map[string]string{"X-Forwarded-Proto": "https"})
	sc := a.header.Get("Set-Cookie")
	for _, want := range []string{admin.SessionCookie + "=", "HttpOnly", "SameSite=Strict", "Secure", "Path=/admin/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("got Set-Cookie %q, want it to contain %q", sc, want)
		}
	}
}

func TestHandler_LoginThrottle(t *testing.T) {
	srv := newSite(t, testToken)
	c := browser(t)
	for i := range 10 {
		if a := send(t, c, "POST", srv.URL+"/admin/login", url.Values{"token": {"wrong"}}, nil); a.status != 401 {
			t.Fatalf("attempt %d: got status %d, want 401", i+1, a.status)
		}
	}
	a := send(t, c, "POST", srv.URL+"/admin/login", url.Values{"token": {testToken}}, nil)
	if a.status != http.StatusTooManyRequests {
		t.Errorf("got status %d after 10 failures, want 429 even with the right token", a.status)
	}
}

func TestHandler_Assets(t *testing.T) {
	srv := newSite(t, testToken)
	c := browser(t)
	page := send(t, c, "GET", srv.URL+"/admin/login", nil, nil).body
	i := strings.Index(page, "style.css?v=")
	if i < 0 {
		t.Fatalf("got login page without a versioned stylesheet: %s", page)
	}
	version := page[i+len("style.css?v=") : i+len("style.css?v=")+12]
	tests := []struct {
		name      string
		path      string
		wantType  string
		wantCache string
		wantIn    string
	}{
		{"script_versioned", "/admin/static/app.js?v=" + version, "text/javascript", "immutable", "replaceChildren"},
		{"style", "/admin/static/style.css", "text/css", "no-cache", "@media (max-width"},
		{"icon", "/admin/static/icon.svg?v=" + version, "image/svg+xml", "immutable", "<svg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := send(t, c, "GET", srv.URL+tt.path, nil, nil)
			if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), tt.wantType) ||
				!strings.Contains(a.header.Get("Cache-Control"), tt.wantCache) || !strings.Contains(a.body, tt.wantIn) {
				t.Errorf("got %d %q %q, want 200 %s with %s and %q in the body",
					a.status, a.header.Get("Content-Type"), a.header.Get("Cache-Control"), tt.wantType, tt.wantCache, tt.wantIn)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		if a := send(t, c, "GET", srv.URL+"/admin/static/nope.js", nil, nil); a.status != 404 {
			t.Errorf("got %d, want 404", a.status)
		}
	})
	t.Run("not_modified", func(t *testing.T) {
		a := send(t, c, "GET", srv.URL+"/admin/static/app.js", nil, map[string]string{"If-None-Match": `"` + version + `"`})
		if a.status != http.StatusNotModified {
			t.Errorf("got %d, want 304", a.status)
		}
	})
}

func TestHandler_LoopbackMode(t *testing.T) {
	srv := newSite(t, "")
	c := browser(t)
	tests := []struct {
		name       string
		path       string
		hdr        map[string]string
		wantStatus int
		wantIn     string
	}{
		{"local_page", "/admin/", nil, 200, "answer only on this machine"},
		{"login_redirects", "/admin/login", nil, 303, ""},
		{"through_proxy", "/admin/", map[string]string{"X-Forwarded-For": "203.0.113.7"}, 403, "TINYSCALE_ADMIN_TOKEN"},
		{"api_local", "/admin/api/v1/servers", nil, 200, `"bbb1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := send(t, c, "GET", srv.URL+tt.path, nil, tt.hdr)
			if a.status != tt.wantStatus || !strings.Contains(a.body, tt.wantIn) {
				t.Errorf("got %d %.200q, want %d containing %q", a.status, a.body, tt.wantStatus, tt.wantIn)
			}
			if strings.Contains(a.body, "Log out") {
				t.Error("got a log out button, want none without a token")
			}
		})
	}
	t.Run("remote_client", func(t *testing.T) {
		h := dashboard.NewHandler(dashboard.Config{Admin: admin.Config{Logger: discard()}})
		r := httptest.NewRequest("GET", "http://lb.example.org/admin/", nil)
		r.RemoteAddr = "203.0.113.7:4444"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden {
			t.Errorf("got %d, want 403", w.Code)
		}
	})
}

// FuzzHandler sends arbitrary requests to the dashboard: no panic, no 5xx.
func FuzzHandler(f *testing.F) {
	for _, s := range []struct{ method, path, body string }{
		{"GET", "/admin/", ""},
		{"POST", "/admin/login", "token=abc"},
		{"POST", "/admin/login", "token=%zz&&&"},
		{"POST", "/admin/logout", ""},
		{"GET", "/admin/static/app.js?v=x", ""},
		{"GET", "/admin/static/../dashboard.go", ""},
	} {
		f.Add(s.method, s.path, s.body)
	}
	h := dashboard.NewHandler(dashboard.Config{Admin: admin.Config{Token: testToken, Logger: discard()}})
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		r, err := http.NewRequest(method, "http://lb.example.org"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		r.RemoteAddr = "192.0.2.1:1234"
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %q: got status %d, want < 500", method, path, w.Code)
		}
		if w.Code == 200 && strings.HasPrefix(r.URL.Path, "/admin/") && r.URL.Path != "/admin/login" &&
			!strings.HasPrefix(r.URL.Path, "/admin/static/") {
			t.Fatalf("%s %q: got 200 without logging in", method, path)
		}
	})
}
