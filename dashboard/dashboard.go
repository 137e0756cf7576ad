// Package dashboard serves tinyscale's live web dashboard under /admin/:
// the fleet as a table (state, health, meetings, participants, load, last
// error) with each server's load over the last hour, the meetings of each
// server, and buttons to enable, cordon, disable and panic servers. The
// page is a small html/template shell; an embedded script fetches the
// admin API (/admin/api/v1/) and refreshes by itself. Every asset is
// embedded in the binary.
//
// Access is the admin API's: with a token, a login form exchanges it for a
// session cookie (HttpOnly, SameSite=Strict, Secure over TLS) holding a
// MAC, never the token; without a token, only local clients are answered.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/tinyscale/tinyscale/admin"
)

// Paths the dashboard serves (main mounts it at /admin/).
const (
	PathPrefix = "/admin/"
	loginPath  = "/admin/login"
	logoutPath = "/admin/logout"
	staticPath = "/admin/static/"
)

// DefaultRefresh is how often the page refreshes its data.
const DefaultRefresh = 5 * time.Second

// Login throttling: after maxLoginFailures failed logins from one client
// address within loginWindow, further attempts are refused until the
// window ends.
const (
	maxLoginFailures = 10
	loginWindow      = 15 * time.Minute
	maxTrackedIPs    = 4096
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Config configures the dashboard.
type Config struct {
	// Admin is the admin API's configuration. The dashboard uses its Auth
	// (or Token), Logger and Now, so that a session made here is accepted
	// by the API.
	Admin admin.Config
	// Refresh is how often the page reloads its data; default 5s.
	Refresh time.Duration
}

// Handler serves the dashboard. Create it with NewHandler.
type Handler struct {
	auth    *admin.Auth
	log     *slog.Logger
	now     func() time.Time
	refresh time.Duration
	tmpl    *template.Template
	assets  map[string]asset
	version string // hash of all assets, for cache busting

	mu       sync.Mutex
	failures map[string]*loginFailures
}

type asset struct {
	body  []byte
	ctype string
}

type loginFailures struct {
	n     int
	until time.Time
}

// NewHandler returns the dashboard handler. The embedded templates and
// assets are parsed here; they are part of the binary and tested, so a
// parse failure (logged, pages then answer 500) cannot happen in a build
// whose tests pass.
func NewHandler(cfg Config) *Handler {
	h := &Handler{
		auth:     cfg.Admin.Auth,
		log:      cfg.Admin.Logger,
		now:      cfg.Admin.Now,
		refresh:  cfg.Refresh,
		assets:   map[string]asset{},
		failures: map[string]*loginFailures{},
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.auth == nil {
		h.auth = admin.NewAuth(cfg.Admin.Token, 0, h.now)
	}
	if h.refresh <= 0 {
		h.refresh = DefaultRefresh
	}
	tmpl, err := template.New("").ParseFS(templateFS, "templates/*.html")
	if err != nil {
		h.log.Error("dashboard: parse templates", "err", err)
		tmpl = nil
	}
	h.tmpl = tmpl
	sum := sha256.New()
	_ = fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "assets/")
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.assets[name] = asset{body: b, ctype: ct}
		sum.Write([]byte(name))
		sum.Write(b)
		return nil
	})
	h.version = hex.EncodeToString(sum.Sum(nil))[:12]
	return h
}

// securityHeaders sets the headers every dashboard answer carries.
func securityHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin") // "no-referrer" would make browsers send Origin: null
}

// ServeHTTP routes dashboard requests.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, staticPath):
		h.static(w, r, strings.TrimPrefix(p, staticPath))
	case p == loginPath:
		h.login(w, r)
	case p == logoutPath:
		h.logout(w, r)
	case p == PathPrefix || p == "/admin":
		h.page(w, r)
	default:
		h.status(w, http.StatusNotFound, "Not found", "There is nothing here.")
	}
}

// pageData is what the templates see.
type pageData struct {
	Title      string
	Version    string
	APIBase    string
	RefreshMS  int64
	CSRFHeader string
	Loopback   bool
	Error      string
	Heading    string
	Message    string
}

func (h *Handler) data(title string) pageData {
	return pageData{
		Title:      title,
		Version:    h.version,
		APIBase:    admin.PathPrefix,
		RefreshMS:  h.refresh.Milliseconds(),
		CSRFHeader: admin.CSRFHeader,
		Loopback:   h.auth.LoopbackMode(),
	}
}

func (h *Handler) render(w http.ResponseWriter, status int, name string, d pageData) {
	var buf bytes.Buffer
	if h.tmpl == nil {
		http.Error(w, "dashboard unavailable", http.StatusInternalServerError)
		return
	}
	if err := h.tmpl.ExecuteTemplate(&buf, name, d); err != nil {
		h.log.Error("dashboard: render template", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// status renders a small message page.
func (h *Handler) status(w http.ResponseWriter, status int, heading, msg string) {
	d := h.data(heading)
	d.Heading, d.Message = heading, msg
	h.render(w, status, "message.html", d)
}

// allowed reports whether r may see the dashboard; if not it has answered.
func (h *Handler) allowed(w http.ResponseWriter, r *http.Request) bool {
	if h.auth.LoopbackMode() {
		if admin.IsLocalRequest(r) {
			return true
		}
		h.status(w, http.StatusForbidden, "Local access only",
			"TINYSCALE_ADMIN_TOKEN is not set, so the dashboard answers only on the machine tinyscale runs on. "+
				"Set TINYSCALE_ADMIN_TOKEN to log in from elsewhere.")
		return false
	}
	if h.auth.ValidSession(r) {
		return true
	}
	http.Redirect(w, r, loginPath, http.StatusSeeOther)
	return false
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.status(w, http.StatusMethodNotAllowed, "Method not allowed", "Use GET.")
		return
	}
	if !h.allowed(w, r) {
		return
	}
	h.render(w, http.StatusOK, "page.html", h.data("tinyscale"))
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if h.auth.LoopbackMode() || (r.Method == http.MethodGet && h.auth.ValidSession(r)) {
		http.Redirect(w, r, PathPrefix, http.StatusSeeOther)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.render(w, http.StatusOK, "login.html", h.data("Log in · tinyscale"))
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		h.status(w, http.StatusMethodNotAllowed, "Method not allowed", "Use the login form.")
		return
	}
	if !admin.SameOrigin(r) {
		h.status(w, http.StatusForbidden, "Forbidden", "Cross-origin login refused.")
		return
	}
	ip := clientIP(r)
	if h.throttled(ip) {
		d := h.data("Log in · tinyscale")
		d.Error = "Too many failed attempts. Try again later."
		h.render(w, http.StatusTooManyRequests, "login.html", d)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		d := h.data("Log in · tinyscale")
		d.Error = "The form could not be read."
		h.render(w, http.StatusBadRequest, "login.html", d)
		return
	}
	if !h.auth.CheckToken(r.PostForm.Get("token")) {
		h.failed(ip)
		h.log.Warn("dashboard: failed login", "client", ip)
		d := h.data("Log in · tinyscale")
		d.Error = "That is not the admin token."
		h.render(w, http.StatusUnauthorized, "login.html", d)
		return
	}
	h.mu.Lock()
	delete(h.failures, ip)
	h.mu.Unlock()
	http.SetCookie(w, h.auth.NewSessionCookie(r))
	h.log.Info("dashboard: login", "client", ip)
	http.Redirect(w, r, PathPrefix, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		h.status(w, http.StatusMethodNotAllowed, "Method not allowed", "Use the log out button.")
		return
	}
	if !admin.SameOrigin(r) {
		h.status(w, http.StatusForbidden, "Forbidden", "Cross-origin request refused.")
		return
	}
	http.SetCookie(w, h.auth.ClearSessionCookie(r))
	http.Redirect(w, r, loginPath, http.StatusSeeOther)
}

// clientIP is the connection's address (proxy headers are not trusted).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *Handler) throttled(ip string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.failures[ip]
	if f == nil {
		return false
	}
	if h.now().After(f.until) {
		delete(h.failures, ip)
		return false
	}
	return f.n >= maxLoginFailures
}

func (h *Handler) failed(ip string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.failures) >= maxTrackedIPs {
		now := h.now()
		for k, f := range h.failures {
			if now.After(f.until) {
				delete(h.failures, k)
			}
		}
		if len(h.failures) >= maxTrackedIPs {
			return // under a broad attack; the token's length is the defence
		}
	}
	f := h.failures[ip]
	if f == nil {
		f = &loginFailures{until: h.now().Add(loginWindow)}
		h.failures[ip] = f
	}
	f.n++
}

// static serves an embedded asset. Requests carrying the current version
// (?v=…) may be cached for good; others must revalidate.
func (h *Handler) static(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := h.assets[name]
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	if r.URL.Query().Get("v") == h.version {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	hd.Set("ETag", `"`+h.version+`"`)
	if r.Header.Get("If-None-Match") == `"`+h.version+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(a.body)
}
