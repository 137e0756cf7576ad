package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Authentication of the admin API and the dashboard.
//
// With a token (TINYSCALE_ADMIN_TOKEN), a request is admitted if it
// carries "Authorization: Bearer <token>" or a valid session cookie (set
// by the dashboard's login form). With no token, the admin surface is in
// loopback mode: it admits only requests that come from a loopback
// address, name a loopback host in the Host header (defeating DNS
// rebinding) and carry no proxy forwarding headers (a reverse proxy on
// the same machine would otherwise make every internet client look local).
//
// State-changing requests that are not authenticated by a bearer token
// (cookie sessions and loopback mode) must carry the CSRFHeader, which a
// cross-site page cannot set without a CORS preflight that tinyscale never
// approves, and an Origin header, if present, that matches the Host.

// CSRFHeader is the request header every state-changing request made with
// a session cookie (or in loopback mode) must carry, with any non-empty
// value. admin.Client always sends it.
const CSRFHeader = "X-Tinyscale-CSRF"

// SessionCookie is the name of the dashboard's session cookie.
const SessionCookie = "tinyscale_session"

// DefaultSessionTTL is how long a dashboard session lasts.
const DefaultSessionTTL = 12 * time.Hour

// Auth checks admin credentials. It is immutable and safe for concurrent
// use. The zero value is in loopback mode.
type Auth struct {
	tokenSum [sha256.Size]byte
	key      []byte // session MAC key, derived from the token
	hasToken bool
	ttl      time.Duration
	now      func() time.Time
}

// NewAuth returns an Auth for token ("" selects loopback mode). Sessions
// last ttl (DefaultSessionTTL if ttl <= 0); now is the clock (time.Now if
// nil).
func NewAuth(token string, ttl time.Duration, now func() time.Time) *Auth {
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	if now == nil {
		now = time.Now
	}
	a := &Auth{ttl: ttl, now: now}
	if token != "" {
		a.hasToken = true
		a.tokenSum = sha256.Sum256([]byte(token))
		m := hmac.New(sha256.New, []byte(token))
		m.Write([]byte("tinyscale admin session key v1"))
		a.key = m.Sum(nil)
	}
	return a
}

// LoopbackMode reports whether no token is set, so that only local
// clients are admitted.
func (a *Auth) LoopbackMode() bool { return !a.hasToken }

// CheckToken reports, in constant time, whether s is the admin token. It
// is always false in loopback mode.
func (a *Auth) CheckToken(s string) bool {
	sum := sha256.Sum256([]byte(s))
	return subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) == 1 && a.hasToken
}

// Authorize decides whether r may use the admin surface. It returns nil
// or an *Error with status 401 (no or bad credentials) or 403 (loopback
// mode refusing a remote client, or a failed CSRF check).
func (a *Auth) Authorize(r *http.Request) error {
	if !a.hasToken {
		if !IsLocalRequest(r) {
			return errorf(http.StatusForbidden, CodeForbidden,
				"the admin API answers only local clients because TINYSCALE_ADMIN_TOKEN is not set")
		}
		return checkCSRF(r)
	}
	if tok, ok := bearer(r); ok {
		if a.CheckToken(tok) {
			return nil
		}
		return errorf(http.StatusUnauthorized, CodeUnauthorized, "invalid admin token")
	}
	if a.ValidSession(r) {
		return checkCSRF(r)
	}
	return errorf(http.StatusUnauthorized, CodeUnauthorized,
		"authentication required: send Authorization: Bearer <TINYSCALE_ADMIN_TOKEN>")
}

// bearer extracts a bearer token from the Authorization header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// unsafeMethod reports whether m may change state.
func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// checkCSRF rejects state-changing requests without the CSRF header or
// with a foreign Origin.
func checkCSRF(r *http.Request) error {
	if !unsafeMethod(r.Method) {
		return nil
	}
	if r.Header.Get(CSRFHeader) == "" {
		return errorf(http.StatusForbidden, CodeForbidden, "missing %s header", CSRFHeader)
	}
	if !SameOrigin(r) {
		return errorf(http.StatusForbidden, CodeForbidden, "cross-origin request refused")
	}
	return nil
}

// SameOrigin reports whether r's Origin header, if any, names the host r
// was sent to. A request without Origin (not sent by a browser for
// same-origin GETs and by most non-browser clients) passes.
func SameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// IsLocalRequest reports whether r comes from a loopback address, was
// sent to a loopback host name, and carries no header a proxy adds
// (Forwarded, Via, X-Real-Ip, or any X-Forwarded-*). A proxy that adds
// none of them and passes a loopback Host cannot be told from a local
// client: behind a proxy, set a token.
func IsLocalRequest(r *http.Request) bool {
	for k := range r.Header {
		switch k = http.CanonicalHeaderKey(k); {
		case k == "Forwarded", k == "Via", k == "X-Real-Ip", strings.HasPrefix(k, "X-Forwarded-"):
			return false
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return false
	}
	return loopbackHost(r.Host)
}

// loopbackHost reports whether the Host header names this machine's
// loopback interface.
func loopbackHost(hostport string) bool {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Unmap().IsLoopback()
}

// secureRequest reports whether r reached tinyscale (or its proxy) over TLS.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// NewSessionCookie returns a fresh session cookie for a client that just
// proved it knows the token. The value is an expiry and a MAC keyed by a
// key derived from the token, never the token itself; changing the token
// ends every session. It returns nil in loopback mode.
func (a *Auth) NewSessionCookie(r *http.Request) *http.Cookie {
	if !a.hasToken {
		return nil
	}
	exp := a.now().Add(a.ttl).Unix()
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	payload := "v1." + strconv.FormatInt(exp, 10) + "." + base64.RawURLEncoding.EncodeToString(nonce[:])
	return &http.Cookie{
		Name:     SessionCookie,
		Value:    payload + "." + a.mac(payload),
		Path:     "/admin/",
		MaxAge:   int(a.ttl / time.Second),
		HttpOnly: true,
		Secure:   secureRequest(r),
		SameSite: http.SameSiteStrictMode,
	}
}

// ClearSessionCookie returns a cookie that deletes the session cookie.
func (a *Auth) ClearSessionCookie(r *http.Request) *http.Cookie {
	return &http.Cookie{
		Name:     SessionCookie,
		Value:    "",
		Path:     "/admin/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   secureRequest(r),
		SameSite: http.SameSiteStrictMode,
	}
}

// ValidSession reports whether r carries an unexpired session cookie
// issued with the current token.
func (a *Auth) ValidSession(r *http.Request) bool {
	if !a.hasToken {
		return false
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(c.Value, '.')
	if i < 0 {
		return false
	}
	payload, sum := c.Value[:i], c.Value[i+1:]
	if !hmac.Equal([]byte(sum), []byte(a.mac(payload))) {
		return false
	}
	parts := strings.Split(payload, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		return false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return false
	}
	return a.now().Unix() < exp
}

func (a *Auth) mac(payload string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
