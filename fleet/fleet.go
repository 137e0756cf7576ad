// Package fleet keeps the gateway's in-memory view of the BBB servers:
// their configuration and admin state from the store, their health from the
// poller, and one reusable API client per server. Readers get immutable
// snapshots, so the hot path takes no lock.
package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/bbb"
)

// Backend is one server as the gateway sees it. A Backend is immutable: a
// change of configuration, state or health produces a new one.
type Backend struct {
	tinyscale.Server
	// Health is the last known health. A server never polled has
	// Health.CheckedAt zero and counts as up.
	Health tinyscale.Health
	// Client calls the server's API, signed with its secret and algorithm.
	Client *bbb.Client
}

// Up reports the server's health.
func (b *Backend) Up() bool { return b.Health.Up || b.Health.CheckedAt.IsZero() }

// Placeable reports whether the server may take a new meeting: up and enabled.
func (b *Backend) Placeable() bool { return b.Up() && b.State == tinyscale.StateEnabled }

// Routable reports whether calls for a meeting held by the server should
// still go to it: it is up. Cordoned and disabled servers keep serving the
// meetings they run; a disabled server gets no traffic once they ended
// (they leave the meeting map, and InFanOut excludes it).
func (b *Backend) Routable() bool { return b.Up() }

// InFanOut reports whether fan-out calls (getMeetings, getRecordings,
// lookups) should ask the server: every server that is up, but a disabled
// one whose meetings have ended. A server the poller reports down is
// skipped, so a hung server does not hold every fan-out up for its timeout.
func (b *Backend) InFanOut() bool {
	return b.Up() && (b.State != tinyscale.StateDisabled || b.Health.Meetings > 0)
}

// Options configure a Fleet.
type Options struct {
	// HTTPClient is used for every backend API call. Default: a client on a
	// shared transport with a 2s connect timeout that never follows
	// redirects; callers bound each call with a context deadline.
	HTTPClient *http.Client
	// RefreshInterval is how often Run reloads servers and health from the
	// store (so changes made by other instances apply); default 500ms.
	RefreshInterval time.Duration
	// Logger receives reload errors; default slog.Default().
	Logger *slog.Logger
}

// Fleet is the set of servers. It is safe for concurrent use.
type Fleet struct {
	store  tinyscale.Store
	opts   Options
	snap   atomic.Pointer[snapshot]
	mu     sync.Mutex // serialises Reload and UpdateHealth
	health map[string]tinyscale.Health
}

type snapshot struct {
	list []*Backend
	byID map[string]*Backend
}

// NewHTTPClient returns the default backend HTTP client: pooled keep-alive
// connections, short connect and TLS timeouts, no redirects.
func NewHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   3 * time.Second,
		MaxIdleConns:          8192,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// New returns a Fleet reading from store. Call Reload (or Run) before use.
func New(store tinyscale.Store, opts Options) *Fleet {
	if opts.HTTPClient == nil {
		opts.HTTPClient = NewHTTPClient()
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = 500 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	f := &Fleet{store: store, opts: opts, health: map[string]tinyscale.Health{}}
	f.snap.Store(&snapshot{byID: map[string]*Backend{}})
	return f
}

// Store returns the fleet's store.
func (f *Fleet) Store() tinyscale.Store { return f.store }

// HTTPClient returns the client used for backend calls.
func (f *Fleet) HTTPClient() *http.Client { return f.opts.HTTPClient }

// Backends returns the current servers ordered by ID. The slice and its
// elements must not be modified.
func (f *Fleet) Backends() []*Backend { return f.snap.Load().list }

// Backend returns the server with id.
func (f *Fleet) Backend(id string) (*Backend, bool) {
	b, ok := f.snap.Load().byID[id]
	return b, ok
}

// Reload reads servers and health from the store and publishes a new
// snapshot. Clients are reused for servers whose URL, secret and algorithm
// did not change.
func (f *Fleet) Reload(ctx context.Context) error {
	servers, err := f.store.Servers(ctx)
	if err != nil {
		return fmt.Errorf("reload servers: %w", err)
	}
	hs, err := f.store.Health(ctx)
	if err != nil {
		return fmt.Errorf("reload health: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range hs {
		// Keep whichever is newer: a local poll may be ahead of the store.
		if cur, ok := f.health[h.ServerID]; !ok || !h.CheckedAt.Before(cur.CheckedAt) {
			f.health[h.ServerID] = h
		}
	}
	f.publish(servers)
	return nil
}

// UpdateHealth applies health records at once, without waiting for the next
// reload. The poller calls it after writing them to the store.
func (f *Fleet) UpdateHealth(hs ...tinyscale.Health) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range hs {
		f.health[h.ServerID] = h
	}
	old := f.snap.Load().list
	servers := make([]tinyscale.Server, len(old))
	for i, b := range old {
		servers[i] = b.Server
	}
	f.publish(servers)
}

// publish builds and stores a snapshot; f.mu must be held.
func (f *Fleet) publish(servers []tinyscale.Server) {
	old := f.snap.Load()
	sort.Slice(servers, func(i, j int) bool { return servers[i].ID < servers[j].ID })
	next := &snapshot{list: make([]*Backend, 0, len(servers)), byID: make(map[string]*Backend, len(servers))}
	for _, s := range servers {
		b := &Backend{Server: s, Health: f.health[s.ID]}
		b.Health.ServerID = s.ID
		if ob, ok := old.byID[s.ID]; ok && ob.URL == s.URL && ob.Secret == s.Secret && ob.Algorithm == s.Algorithm {
			b.Client = ob.Client
		} else {
			b.Client = &bbb.Client{BaseURL: s.URL, Secret: s.Secret, Algorithm: s.Algorithm, HTTP: f.opts.HTTPClient}
		}
		next.list = append(next.list, b)
		next.byID[s.ID] = b
	}
	f.snap.Store(next)
}

// failureLogInterval is how often Run repeats the warning while reloads
// keep failing.
const failureLogInterval = 30 * time.Second

// Run reloads from the store every RefreshInterval until ctx ends; the
// last good snapshot stays in use while reloads fail. A run of failures
// (the store is down) is logged when it starts, then at most every 30s
// with the number of failures, and when it ends, rather than twice a
// second.
func (f *Fleet) Run(ctx context.Context) {
	t := time.NewTicker(f.opts.RefreshInterval)
	defer t.Stop()
	var rl reloadLog
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := f.Reload(ctx)
			if ctx.Err() != nil {
				return
			}
			rl.record(f.opts.Logger, err, time.Now())
		}
	}
}

// reloadLog throttles the log lines of failing reloads.
type reloadLog struct {
	failures int       // failed reloads in a row
	logged   time.Time // when the last failure was logged
}

// record logs the outcome of one reload made at now, if it is news.
func (rl *reloadLog) record(log *slog.Logger, err error, now time.Time) {
	switch {
	case err == nil && rl.failures > 0:
		log.Info("fleet reload works again", "failures", rl.failures)
		rl.failures = 0
	case err == nil:
	case rl.failures == 0 || now.Sub(rl.logged) >= failureLogInterval:
		rl.failures++
		rl.logged = now
		log.Warn("fleet reload failed; using the last servers and health read", "failures", rl.failures, "err", err)
	default:
		rl.failures++
	}
}
