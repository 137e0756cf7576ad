// Package admin is tinyscale's JSON admin API, mounted under
// /admin/api/v1/: list, add and remove servers, change their admin state
// (enable, cordon, disable), panic a server (end its meetings and forget
// them), list meetings, report the fleet's status and its load history.
// It also holds the Client that the CLI uses, and the authentication
// (bearer token or dashboard session, loopback mode without a token) that
// the dashboard shares.
//
// Every change is written to the store first, then applied at once with
// Fleet.Reload, then announced through Config.OnChange.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/fleet"
)

// PathPrefix is where main mounts the admin API; handlers see full paths.
const PathPrefix = "/admin/api/v1/"

// Defaults of the Config fields.
const (
	DefaultProbeTimeout = 5 * time.Second
	DefaultCallTimeout  = 10 * time.Second
	maxBody             = 64 << 10
)

// Config configures the admin API handler.
type Config struct {
	// Fleet is the set of servers. Required.
	Fleet *fleet.Fleet
	// Store persists servers and meetings; default Fleet.Store().
	Store tinyscale.Store
	// Token is the admin bearer token (TINYSCALE_ADMIN_TOKEN). Empty
	// selects loopback mode: only local clients are answered (see Auth).
	Token string
	// Auth, if set, is used instead of one built from Token, so that the
	// API and the dashboard share one (e.g. with a test clock).
	Auth *Auth
	// Probe checks a server before it is added (poller.Probe); nil adds
	// servers without probing. Errors wrapping poller.ErrBadSecret or
	// poller.ErrNotBBB refuse the server (422); any other error adds it as
	// down, with a warning.
	Probe func(ctx context.Context, b *fleet.Backend) error
	// OnChange is called, synchronously and after Fleet.Reload, when a
	// server was added, removed or changed (e.g. to register webhooks on a
	// new server). It gets a context detached from the request, and should
	// return quickly. Nil does nothing.
	OnChange func(ctx context.Context)
	// Load returns a server's load figure, as placement computes it;
	// default DefaultLoad.
	Load func(b *fleet.Backend) float64
	// History serves GET history; nil answers an empty history.
	History *History
	// ProbeTimeout bounds the probe of a new server; default 5s.
	ProbeTimeout time.Duration
	// CallTimeout bounds calls to a server (getMeetings, end); default 10s.
	CallTimeout time.Duration
	// Logger receives errors and an audit line per change; default
	// slog.Default().
	Logger *slog.Logger
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// DefaultLoad is the load figure used when Config.Load is nil:
// participants divided by weight.
func DefaultLoad(b *fleet.Backend) float64 {
	w := b.Weight
	if w <= 0 {
		w = 1
	}
	return float64(b.Health.Participants) / w
}

// Handler serves the admin API. Create it with NewHandler.
type Handler struct {
	cfg  Config
	auth *Auth
	log  *slog.Logger
	mu   sync.Mutex // serialises changes (read-modify-write of a server)
}

// NewHandler returns the admin API handler. Without a Fleet (a wiring mistake) every request
// is answered 503 and the mistake is logged.
func NewHandler(cfg Config) *Handler {
	if cfg.Store == nil && cfg.Fleet != nil {
		cfg.Store = cfg.Fleet.Store()
	}
	if cfg.Load == nil {
		cfg.Load = DefaultLoad
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = DefaultProbeTimeout
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := cfg.Auth
	if a == nil {
		a = NewAuth(cfg.Token, 0, cfg.Now)
	}
	if cfg.Fleet == nil || cfg.Store == nil {
		cfg.Logger.Error("admin API misconfigured: Fleet is required; answering 503")
	}
	return &Handler{cfg: cfg, auth: a, log: cfg.Logger}
}

// Auth returns the handler's authentication, for the dashboard to share.
func (h *Handler) Auth() *Auth { return h.auth }

// route is one endpoint: a method and a path pattern of segments after
// PathPrefix, where "{id}" matches one non-empty segment.
type route struct {
	method  string
	pattern []string
	fn      func(w http.ResponseWriter, r *http.Request, id string) error
}

func (h *Handler) routes() []route {
	return []route{
		{http.MethodGet, []string{"servers"}, h.listServers},
		{http.MethodPost, []string{"servers"}, h.addServer},
		{http.MethodGet, []string{"servers", "{id}"}, h.getServer},
		{http.MethodDelete, []string{"servers", "{id}"}, h.removeServer},
		{http.MethodGet, []string{"servers", "{id}", "meetings"}, h.serverMeetings},
		{http.MethodPost, []string{"servers", "{id}", "enable"}, h.setState(tinyscale.StateEnabled)},
		{http.MethodPost, []string{"servers", "{id}", "cordon"}, h.setState(tinyscale.StateCordoned)},
		{http.MethodPost, []string{"servers", "{id}", "disable"}, h.setState(tinyscale.StateDisabled)},
		{http.MethodPost, []string{"servers", "{id}", "panic"}, h.panicServer},
		{http.MethodGet, []string{"meetings"}, h.allMeetings},
		{http.MethodGet, []string{"status"}, h.status},
		{http.MethodGet, []string{"history"}, h.history},
	}
}

// ServeHTTP authenticates the request, routes it, and renders errors as
// JSON. It never panics on client input.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Fleet == nil || h.cfg.Store == nil {
		writeError(w, r, h.log, errorf(http.StatusServiceUnavailable, CodeInternal, "admin API not configured"))
		return
	}
	if err := h.auth.Authorize(r); err != nil {
		writeError(w, r, h.log, err)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, PathPrefix)
	if !ok {
		writeError(w, r, h.log, errorf(http.StatusNotFound, CodeNotFound, "no such endpoint"))
		return
	}
	segs := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	var allowed []string
	for _, rt := range h.routes() {
		id, ok := match(rt.pattern, segs)
		if !ok {
			continue
		}
		if rt.method != r.Method && !(rt.method == http.MethodGet && r.Method == http.MethodHead) {
			allowed = append(allowed, rt.method)
			continue
		}
		if err := rt.fn(w, r, id); err != nil {
			writeError(w, r, h.log, err)
		}
		return
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, r, h.log, errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
			"method %s not allowed here (allowed: %s)", r.Method, strings.Join(allowed, ", ")))
		return
	}
	writeError(w, r, h.log, errorf(http.StatusNotFound, CodeNotFound, "no such endpoint"))
}

// match matches path segments against a pattern and returns the {id}.
func match(pattern, segs []string) (string, bool) {
	if len(pattern) != len(segs) {
		return "", false
	}
	var id string
	for i, p := range pattern {
		if p == "{id}" {
			if segs[i] == "" {
				return "", false
			}
			id = segs[i]
			continue
		}
		if p != segs[i] {
			return "", false
		}
	}
	return id, true
}

// serverInfo converts a fleet backend to its admin API form. It never
// copies the secret.
func (h *Handler) serverInfo(b *fleet.Backend) Server {
	s := Server{
		ID:           b.ID,
		Host:         b.URL,
		State:        b.State,
		Health:       HealthDown,
		Weight:       b.Weight,
		Tags:         append([]string{}, b.Tags...),
		Algorithm:    b.Algorithm,
		Source:       b.Source,
		Meetings:     b.Health.Meetings,
		Participants: b.Health.Participants,
		Load:         h.cfg.Load(b),
		LastError:    b.Health.LastError,
	}
	if b.Up() {
		s.Health = HealthUp
	}
	if !b.Health.CheckedAt.IsZero() {
		t := b.Health.CheckedAt
		s.CheckedAt = &t
	}
	return s
}

func (h *Handler) listServers(w http.ResponseWriter, r *http.Request, _ string) error {
	bs := h.cfg.Fleet.Backends()
	out := make([]Server, 0, len(bs))
	for _, b := range bs {
		out = append(out, h.serverInfo(b))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) getServer(w http.ResponseWriter, r *http.Request, id string) error {
	b, ok := h.cfg.Fleet.Backend(id)
	if !ok {
		return notFound(id)
	}
	writeJSON(w, http.StatusOK, h.serverInfo(b))
	return nil
}

func notFound(id string) *Error {
	return errorf(http.StatusNotFound, CodeNotFound, "no server with id %q", id)
}

// decodeJSON reads a JSON request body into v, refusing unknown fields,
// trailing data, and bodies over maxBody bytes (413).
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return errorf(http.StatusUnsupportedMediaType, CodeBadRequest, "Content-Type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return errorf(http.StatusRequestEntityTooLarge, CodeBadRequest, "request body too large (at most %d bytes)", maxBody)
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, CodeBadRequest, "invalid JSON body: empty body")
	}
	return errorf(http.StatusBadRequest, CodeBadRequest, "invalid JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// storeServer returns the stored server with id, read from the store so
// that read-modify-write sees the latest state.
func (h *Handler) storeServer(ctx context.Context, id string) (tinyscale.Server, error) {
	all, err := h.cfg.Store.Servers(ctx)
	if err != nil {
		return tinyscale.Server{}, fmt.Errorf("read servers: %w", err)
	}
	for _, s := range all {
		if s.ID == id {
			return s, nil
		}
	}
	return tinyscale.Server{}, notFound(id)
}

// applied reloads the fleet and announces the change. The reload error is
// returned (the change is stored but this instance does not see it yet,
// which the next periodic reload fixes).
func (h *Handler) applied(r *http.Request) error {
	ctx := context.WithoutCancel(r.Context())
	if err := h.cfg.Fleet.Reload(ctx); err != nil {
		return fmt.Errorf("reload fleet: %w", err)
	}
	if h.cfg.OnChange != nil {
		h.cfg.OnChange(ctx)
	}
	return nil
}

// backend returns the fleet's backend for id.
func (h *Handler) backend(id string) (*fleet.Backend, error) {
	b, ok := h.cfg.Fleet.Backend(id)
	if !ok {
		return nil, notFound(id)
	}
	return b, nil
}

func (h *Handler) setState(st tinyscale.ServerState) func(http.ResponseWriter, *http.Request, string) error {
	return func(w http.ResponseWriter, r *http.Request, id string) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		ctx := context.WithoutCancel(r.Context())
		s, err := h.storeServer(ctx, id)
		if err != nil {
			return err
		}
		if s.State != st {
			old := s.State
			s.State = st
			if err := h.cfg.Store.PutServer(ctx, s); err != nil {
				return fmt.Errorf("store server %s: %w", id, err)
			}
			h.log.Info("admin: server state changed", "server", id, "from", string(old), "to", string(st))
		}
		if err := h.applied(r); err != nil {
			return err
		}
		b, err := h.backend(id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, h.serverInfo(b))
		return nil
	}
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request, _ string) error {
	writeJSON(w, http.StatusOK, h.Status(r.Context()))
	return nil
}

// Status returns the fleet's status: every server from the fleet's
// snapshot, totals, and whether the store answers a ping (bounded by 2s).
func (h *Handler) Status(ctx context.Context) Status {
	st := Status{Time: h.cfg.Now().UTC(), Servers: []Server{}}
	for _, b := range h.cfg.Fleet.Backends() {
		s := h.serverInfo(b)
		st.Servers = append(st.Servers, s)
		t := &st.Totals
		t.Servers++
		if s.Health == HealthUp {
			t.Up++
		} else {
			t.Down++
		}
		switch s.State {
		case tinyscale.StateEnabled:
			t.Enabled++
		case tinyscale.StateCordoned:
			t.Cordoned++
		case tinyscale.StateDisabled:
			t.Disabled++
		}
		t.Meetings += s.Meetings
		t.Participants += s.Participants
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := h.cfg.Store.Ping(pctx); err != nil {
		st.Store = StoreStatus{Error: err.Error()}
	} else {
		st.Store = StoreStatus{OK: true}
	}
	return st
}

func (h *Handler) history(w http.ResponseWriter, r *http.Request, _ string) error {
	var since time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return errorf(http.StatusBadRequest, CodeBadRequest, "since: %q is not a Unix time in seconds", v)
		}
		since = time.Unix(n, 0)
	}
	if h.cfg.History == nil {
		writeJSON(w, http.StatusOK, HistoryData{Servers: []HistorySeries{}})
		return nil
	}
	writeJSON(w, http.StatusOK, h.cfg.History.Since(since))
	return nil
}
