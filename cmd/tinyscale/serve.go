package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/admin"
	"github.com/tinyscale/tinyscale/balancer"
	"github.com/tinyscale/tinyscale/dashboard"
	"github.com/tinyscale/tinyscale/fleet"
	"github.com/tinyscale/tinyscale/gateway"
	"github.com/tinyscale/tinyscale/metrics"
	"github.com/tinyscale/tinyscale/poller"
	"github.com/tinyscale/tinyscale/store/bolt"
	"github.com/tinyscale/tinyscale/store/redis"
)

// ServeCommand is `tinyscale serve`, the default command: it runs the
// gateway until SIGINT/SIGTERM and reloads servers.json on SIGHUP.
type ServeCommand struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// LookupEnv, if set, reads the environment instead of Getenv, so that
	// a variable set to the empty string (TINYSCALE_SERVERS=) can be told
	// from an unset one.
	LookupEnv func(string) (string, bool)
}

// Run implements command.
func (c *ServeCommand) Run(ctx context.Context, args []string) error {
	lookup := c.LookupEnv
	if lookup == nil {
		lookup = func(k string) (string, bool) { v := c.Getenv(k); return v, v != "" }
	}
	cfg, err := ParseConfig("tinyscale serve", args, lookup, nil)
	if err != nil {
		return err
	}
	if v, _ := lookup("GOMEMLIMIT"); v == "" {
		// A soft limit keeps the footprint small on a shared box: the
		// garbage collector works harder before the heap grows past it.
		// GOMEMLIMIT overrides it.
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	m := &Main{Config: cfg, Stderr: c.Stderr}
	if err := m.Run(ctx); err != nil {
		m.Close(context.Background())
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			if err := m.ReloadServers(ctx); err != nil {
				m.Logger.Error("servers.json reload failed; keeping the current servers", "err", err)
			} else {
				m.Logger.Info("servers.json reloaded")
			}
			continue
		case <-ctx.Done():
		}
		break
	}
	m.Logger.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return m.Close(sctx)
}

// defaultMemoryLimit is the Go runtime's soft memory limit for `serve`
// unless GOMEMLIMIT is set.
const defaultMemoryLimit = 48 << 20

// Main wires the gateway together. Tests and the demo set Config (with
// Listen "127.0.0.1:0" and a temporary store) and call Run, then Close.
type Main struct {
	// Config is the validated configuration.
	Config Config
	// Servers, if non-nil, replaces servers.json (demo and tests).
	Servers []tinyscale.Server
	// Stderr receives logs; default os.Stderr.
	Stderr io.Writer
	// Logger is set by Run (or may be preset).
	Logger *slog.Logger

	// Addr is the address the HTTP server listens on, set by Run.
	Addr string

	Store   tinyscale.Store
	Fleet   *fleet.Fleet
	Gateway *gateway.Gateway

	srv    *http.Server
	ctx    context.Context // background work runs under it
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed bool
}

// URL returns the gateway's base URL, e.g. http://127.0.0.1:3005.
func (m *Main) URL() string {
	host, port, _ := net.SplitHostPort(m.Addr)
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(strings.ToUpper(level)))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens the bolt file or the Redis URL named by spec.
func openStore(ctx context.Context, spec string, log *slog.Logger) (tinyscale.Store, error) {
	if redis.IsURL(spec) {
		// While opening, the client library's own line about a refused
		// dial would only repeat the error returned here, which must stay
		// the one line a failed start prints.
		redis.SetLogger(nil)
		s, err := redis.Open(ctx, spec)
		if err != nil {
			return nil, fmt.Errorf("TINYSCALE_STORE: %w", err)
		}
		redis.SetLogger(log)
		return s, nil
	}
	s, err := bolt.Open(spec)
	if err != nil {
		return nil, fmt.Errorf("TINYSCALE_STORE: %w", err)
	}
	return s, nil
}

// Run starts the store, fleet, poller, gateway and HTTP server, and returns
// once the server is listening. Start-up fails if a server rejects
// tinyscale's checksum or does not speak the BBB API (any failed probe with
// Config.Strict).
func (m *Main) Run(ctx context.Context) error {
	cfg := m.Config
	if m.Stderr == nil {
		m.Stderr = os.Stderr
	}
	if m.Logger == nil {
		m.Logger = newLogger(m.Stderr, cfg.LogFormat, cfg.LogLevel)
	}
	log := m.Logger

	store, err := openStore(ctx, cfg.Store, log)
	if err != nil {
		return err
	}
	m.Store = store
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	met := metrics.New(reg)

	m.Fleet = fleet.New(store, fleet.Options{Logger: log})
	if err := m.syncServers(ctx, true); err != nil {
		return err
	}

	policy, err := balancer.New(cfg.Strategy)
	if err != nil {
		return err
	}
	gw, err := gateway.New(gateway.Config{
		Secret:         cfg.Secret,
		Algorithms:     cfg.Algorithms,
		Fleet:          m.Fleet,
		Store:          store,
		Policy:         policy,
		DefaultTag:     cfg.DefaultTag,
		BackendTimeout: cfg.BackendTimeout,
		FanOutTimeout:  cfg.FanOutTimeout,
		PublicURL:      cfg.PublicURL,
		Logger:         log,
		Metrics:        met,
	})
	if err != nil {
		return err
	}
	m.Gateway = gw
	load := func(b *fleet.Backend) float64 {
		return (&balancer.LeastLoaded{}).Load(balancer.Candidate{Server: b.Server, Health: b.Health})
	}
	reg.MustRegister(metrics.NewFleetCollector(m.Fleet, load))

	m.ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	p := &poller.Poller{
		Fleet:     m.Fleet,
		Store:     store,
		Interval:  cfg.PollInterval,
		Timeout:   cfg.PollTimeout,
		DownAfter: cfg.DownAfter,
		UpAfter:   cfg.UpAfter,
		Holder:    cfg.InstanceID,
		Logger:    log,
		Metrics:   met,
	}
	history := admin.NewHistory(m.Fleet, load)
	m.background(func(ctx context.Context) {
		if err := p.Run(ctx); err != nil {
			log.Error("poller stopped", "err", err)
		}
	})
	m.background(func(ctx context.Context) { m.Fleet.Run(ctx) })
	m.background(func(ctx context.Context) { history.Run(ctx) })
	m.background(func(ctx context.Context) { m.syncHooksLoop(ctx) })

	if cfg.AdminToken == "" {
		log.Warn("TINYSCALE_ADMIN_TOKEN is not set: the admin API and dashboard answer only clients on this machine (loopback)")
	}
	adminCfg := admin.Config{
		Fleet:    m.Fleet,
		Store:    store,
		Token:    cfg.AdminToken,
		Probe:    poller.Probe,
		OnChange: func(ctx context.Context) { m.syncHooks(ctx) },
		Load:     load,
		History:  history,
		Logger:   log,
	}
	mux := http.NewServeMux()
	mux.Handle("/bigbluebutton/api", gw)
	mux.Handle("/bigbluebutton/api/", gw)
	mux.Handle("/tinyscale/callback/", gw.Callbacks())
	mux.Handle("/admin/api/v1/", admin.NewHandler(adminCfg))
	mux.Handle("/admin/", dashboard.NewHandler(dashboard.Config{Admin: adminCfg}))
	mux.Handle("/metrics", m.metricsHandler(reg))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/readyz", m.readyz)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	m.Addr = ln.Addr().String()
	m.srv = &http.Server{
		Handler:           mergeSlashes(mux),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
		}
	}()
	if cfg.PprofListen != "" {
		if err := m.servePprof(cfg.PprofListen); err != nil {
			return err
		}
	}
	if len(m.Fleet.Backends()) == 0 {
		log.Warn("no BBB servers configured: list them in servers.json or add them with `tinyscale servers add`; until one is up, API calls fail and /readyz answers 503")
	}
	log.Info("tinyscale listening", "addr", m.Addr, "servers", len(m.Fleet.Backends()), "store", storeKind(cfg.Store), "strategy", cfg.Strategy, "version", versionString())
	return nil
}

// mergeSlashes serves paths with repeated slashes as if they were single,
// as nginx in front of bbb-web does, instead of ServeMux's redirect (which
// clients following it would turn from a POST into a GET).
func mergeSlashes(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "//") {
			h.ServeHTTP(w, r)
			return
		}
		p := r.URL.Path
		for strings.Contains(p, "//") {
			p = strings.ReplaceAll(p, "//", "/")
		}
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path, u.RawPath = p, ""
		r2.URL = &u
		h.ServeHTTP(w, r2)
	})
}

// servePprof serves Go's profiling endpoints on their own listener, so they
// are never exposed on the API port.
func (m *Main) servePprof(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("TINYSCALE_PPROF_LISTEN: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		_ = srv.Serve(ln)
	}()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		<-m.ctx.Done()
		_ = srv.Close()
	}()
	m.Logger.Info("pprof listening", "addr", ln.Addr().String())
	return nil
}

func storeKind(spec string) string {
	if redis.IsURL(spec) {
		return "redis"
	}
	return "bolt " + spec
}

func (m *Main) background(f func(ctx context.Context)) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f(m.ctx)
	}()
}

// Close shuts down gracefully: stop accepting, finish in-flight requests
// (until ctx ends), stop background work, finish callback deliveries, and
// close the store.
func (m *Main) Close(ctx context.Context) error {
	if m.closed {
		return nil
	}
	m.closed = true
	var errs []error
	if m.srv != nil {
		if err := m.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
	}
	if m.cancel != nil {
		m.cancel()
	}
	if m.Gateway != nil {
		if err := m.Gateway.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("callback deliveries: %w", err))
		}
	}
	m.wg.Wait()
	if m.Store != nil {
		if err := m.Store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
	}
	return errors.Join(errs...)
}

// readyz answers 200 when the store answers and at least one server is up.
func (m *Main) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := m.Store.Ping(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "not ready: store unreachable\n")
		return
	}
	up := 0
	for _, b := range m.Fleet.Backends() {
		if b.Up() {
			up++
		}
	}
	if up == 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "not ready: no BBB server is up\n")
		return
	}
	fmt.Fprintf(w, "ready: %d of %d servers up\n", up, len(m.Fleet.Backends()))
}

func (m *Main) metricsHandler(reg *prometheus.Registry) http.Handler {
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	token := m.Config.MetricsToken
	if token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !checkBearer(r, token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tinyscale metrics"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// checkBearer reports whether r carries "Authorization: Bearer <token>",
// compared in constant time.
func checkBearer(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}
